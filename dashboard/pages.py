"""Dossier pages from the copy stand: what the `page` and `dossier_scanned` events say, kept and read back.

The ingest calls `on_event` for every accepted event (after its (gateway, seq) check, so a repeat never
gets here). A `page` event puts the page in `pages`; a later one for the same dossier and page number
(a retake) replaces it, an older one arriving late (from a gateway's backlog) does not. Within one gateway
"later" is its seq; between two gateways (two copy stands) it is the event's time. The files the events
name arrive separately, over HTTP (dashboard/page_files.py); `dossier_pages` says which are here yet.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from gateway import protocol


def on_event(conn: sqlite3.Connection, row: dict[str, Any], body: protocol.Event) -> None:
    if body.kind == "page":
        _page(conn, row, protocol.read_page(body.data))
    elif body.kind == "dossier_scanned":
        _scan(conn, row, protocol.read_dossier_scan(body.data))


def _newer(known: tuple | None, row: dict[str, Any]) -> bool:
    """Whether the message in `row` is newer than the one `known` (gateway, seq, ts) came from."""
    if known is None:
        return True
    gateway, seq, ts = known
    return row["seq"] > seq if gateway == row["gateway"] else row["ts"] >= ts


def _files(files: dict[str, protocol.FileRef]) -> str:
    return json.dumps({kind: ref.model_dump() for kind, ref in files.items()}, ensure_ascii=False)


def _page(conn: sqlite3.Connection, row: dict[str, Any], record: protocol.PageRecord) -> None:
    key = (row["site"], record.dossier, record.page)
    known = conn.execute(
        "SELECT gateway, seq, ts, files, retakes FROM pages WHERE site = ? AND dossier = ? AND page = ?", key
    ).fetchone()
    if not _newer(known[:3] if known else None, row):
        return
    files = _files(record.files)
    retakes = 0 if known is None else known[4] + (known[3] != files)  # the same page sent again is no retake
    conn.execute(
        """INSERT OR REPLACE INTO pages (site, dossier, page, gateway, seq, ts, received, captured, device, dpi,
                  qc_ok, checks, files, retakes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            *key,
            row["gateway"],
            row["seq"],
            row["ts"],
            row["received"],
            record.captured.isoformat(),
            record.device,
            record.dpi,
            record.qc_ok,
            json.dumps({name: check.model_dump() for name, check in record.checks.items()}, ensure_ascii=False),
            files,
            retakes,
        ),
    )


def _scan(conn: sqlite3.Connection, row: dict[str, Any], scan: protocol.DossierScan) -> None:
    key = (row["site"], scan.dossier)
    known = conn.execute("SELECT gateway, seq, ts FROM dossier_scans WHERE site = ? AND dossier = ?", key).fetchone()
    if not _newer(known, row):
        return
    conn.execute(
        """INSERT OR REPLACE INTO dossier_scans (site, dossier, gateway, seq, ts, received, pages, files)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (*key, row["gateway"], row["seq"], row["ts"], row["received"], scan.pages, _files(scan.files)),
    )


def dossier_pages(conn: sqlite3.Connection, site: str, dossier: str, here) -> list[dict[str, Any]]:
    """The dossier's pages in order, each file marked `uploaded` if `here(sha256)` says the dashboard has it."""
    rows = conn.execute(
        """SELECT page, captured, device, dpi, qc_ok, checks, files, retakes, gateway, ts, received
           FROM pages WHERE site = ? AND dossier = ? ORDER BY page""",
        (site, dossier),
    ).fetchall()
    result = []
    for page, captured, device, dpi, qc_ok, checks, files, retakes, gateway, ts, received in rows:
        result.append(
            {
                "page": page,
                "captured": captured,
                "device": device,
                "dpi": dpi,
                "qc": {"ok": bool(qc_ok), "checks": json.loads(checks)},
                "files": {k: {**f, "uploaded": here(f["sha256"])} for k, f in json.loads(files).items()},
                "retakes": retakes,
                "gateway": gateway,
                "ts": ts,
                "received": received,
            }
        )
    return result


def dossier_scan(conn: sqlite3.Connection, site: str, dossier: str, here) -> dict[str, Any] | None:
    """The dossier's latest manifest (and an older gateway's PDF), or None before a copy-stand session has ended."""
    row = conn.execute(
        "SELECT pages, files, gateway, ts, received FROM dossier_scans WHERE site = ? AND dossier = ?", (site, dossier)
    ).fetchone()
    if row is None:
        return None
    pages, files, gateway, ts, received = row
    files = {k: {**f, "uploaded": here(f["sha256"])} for k, f in json.loads(files).items()}
    return {"pages": pages, "files": files, "gateway": gateway, "ts": ts, "received": received}
