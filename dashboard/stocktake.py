"""Stocktakes (盘点): a keeper takes stock of a shelf, a row, a room or the whole site, over one sitting or many days.

At a reader the keeper scans a shelf's location tag, then the dossiers on that shelf, then the next
shelf's tag, and so on. The dashboard reconciles from the tag reads themselves (the `tag_read` events
since the stocktake started), so it is right whatever order the messages arrive in: per reader, in seq
order, a location tag says where the dossier tags read after it are (for CONTEXT_S at most, by the
gateway's clock). Which reads belong to a stocktake goes by when the dashboard received them, so a
gateway whose clock is off (a Pi without its time yet) still counts.

- found: read on the shelf (or in the row) that is its home;
- misplaced: read here, its home is elsewhere (or it has none);
- missing: its home is a shelf visited in this stocktake, and it was read nowhere in it (dossiers out on
  loan are listed as such, not as missing);
- unknown: a tag read at a location that is not a dossier of the register: a valid dossier tag the
  register does not know, a location tag for a place the site does not have, an invalid tag.

Closing a stocktake freezes its findings (`stocktake_findings`) and records every visited shelf as fully
checked (`shelf_checks`); a shelf not checked for `tracking.stocktake_due_days` is due again.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dashboard.locations import Locations
from dashboard.schema import iso, parse_iso
from dashboard.whereabouts import CONTEXT_S, open_loan

OUTCOMES = ("found", "missing", "misplaced", "unknown", "on_loan")


class StocktakeError(ValueError):
    """A stocktake cannot be started or closed; the message says why."""


@dataclass
class Reconciliation:
    stocktake: dict[str, Any]
    shelves: list[str]
    visited: list[str]
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {o: [] for o in OUTCOMES})

    def counts(self) -> dict[str, int]:
        return {outcome: len(rows) for outcome, rows in self.findings.items()}

    def rows(self) -> list[dict[str, Any]]:
        """Every finding, problems first, as the report lists them."""
        order = ("missing", "misplaced", "unknown", "on_loan", "found")
        return [row | {"outcome": outcome} for outcome in order for row in self.findings[outcome]]


def _stocktake(row: tuple) -> dict[str, Any]:
    keys = ("id", "scope", "started", "started_by", "closed", "closed_by", "note")
    return dict(zip(keys, row, strict=True))


COLUMNS = "id, scope, started, started_by, closed, closed_by, note"


def get(conn: sqlite3.Connection, stocktake_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM stocktakes WHERE id = ?", (stocktake_id,)).fetchone()
    return _stocktake(row) if row else None


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Open stocktakes first, then the latest closed ones."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM stocktakes ORDER BY closed IS NOT NULL, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_stocktake(r) for r in rows]


def start(conn: sqlite3.Connection, locations: Locations, scope: str, *, by: str, at: datetime, note: str = "") -> int:
    """Open a stocktake of `scope` (the site's, a room's, a row's or a shelf's code); its id."""
    place = locations.get(scope)
    if place is None or place.kind not in ("site", "room", "row", "shelf"):
        raise StocktakeError(f"{scope!r} is not the site, a room, a row or a shelf of this site")
    if not locations.shelves_in(scope):
        raise StocktakeError(f"{scope!r} has no shelves to take stock of")
    cursor = conn.execute(
        "INSERT INTO stocktakes (scope, started, started_by, note) VALUES (?, ?, ?, ?)",
        (scope, iso(at), by, note[:500]),
    )
    return int(cursor.lastrowid or 0)


def reconcile(
    conn: sqlite3.Connection, locations: Locations, stocktake: dict[str, Any], now: datetime
) -> Reconciliation:
    """What the tag reads since the stocktake started say about its shelves."""
    shelves = locations.shelves_in(stocktake["scope"])
    in_scope = set(shelves)
    until = stocktake["closed"] or iso(now)
    rows = conn.execute(
        "SELECT gateway, seq, ts, device, data FROM events WHERE kind = 'tag_read' AND received >= ? AND received <= ?"
        " ORDER BY gateway, device, seq",
        (stocktake["started"], until),
    ).fetchall()
    visited: set[str] = set()
    seen: dict[str, dict[str, Any]] = {}  # dossier code -> its latest read at a location of this stocktake
    unknown: dict[str, dict[str, Any]] = {}
    current: dict[tuple[str, str], tuple[str, datetime]] = {}  # (gateway, reader) -> (location, when read)
    for gateway, _seq, ts, device, data in rows:
        fields = json.loads(data)
        reader = (gateway, str(fields.get("reader") or device or ""))
        when = parse_iso(ts)
        if fields.get("valid") is True and fields.get("kind") == "location":
            place = locations.get(fields.get("code"))
            if place is None:
                current.pop(reader, None)
                code = str(fields.get("code"))
                unknown[f"location:{code}"] = {"code": code, "shelf": None, "ts": ts, "reason": "unknown_location"}
                continue
            here = set(locations.shelves_in(place.code)) or (
                {locations.shelf_of(place.code)} if locations.shelf_of(place.code) else set()
            )
            if here & in_scope:
                current[reader] = (place.code, when)
                visited |= here & in_scope
            else:
                current.pop(reader, None)  # a place outside this stocktake: what is read there is not counted
            continue
        location = current.get(reader)
        if location is None or (when - location[1]).total_seconds() > CONTEXT_S:
            continue
        if fields.get("valid") is True and fields.get("kind") == "dossier":
            seen[str(fields["code"])] = {"seen_at": location[0], "ts": ts}
        else:
            key = f"uid:{fields.get('uid') or '?'}"
            reason = fields.get("reason") or f"{fields.get('kind')}_tag"
            unknown[key] = {"code": key, "shelf": location[0], "ts": ts, "reason": reason}
    result = Reconciliation(stocktake, shelves, [s for s in shelves if s in visited])
    registered = _dossiers(conn, "code", sorted(seen))
    for code, sighting in sorted(seen.items()):
        dossier = registered.get(code)
        if dossier is None:
            unknown[code] = {
                "code": code,
                "shelf": sighting["seen_at"],
                "ts": sighting["ts"],
                "reason": "not_registered",
            }
            continue
        row = {"code": code, "name": dossier["name"], "home": dossier["home"], **sighting}
        home_shelf = dossier["home_shelf"]
        at_home = home_shelf is not None and home_shelf in set(locations.shelves_in(sighting["seen_at"]))
        result.findings["found" if at_home else "misplaced"].append(row)
    for code, dossier in sorted(_dossiers(conn, "home_shelf", sorted(visited)).items()):
        if code in seen:
            continue
        loan = open_loan(conn, code)
        row = {"code": code, "name": dossier["name"], "home": dossier["home"], "seen_at": None, "ts": None}
        result.findings["on_loan" if loan else "missing"].append(row)
    result.findings["unknown"] = [
        {"code": u["code"], "name": "", "home": None, "seen_at": u["shelf"], "ts": u["ts"], "reason": u["reason"]}
        for u in unknown.values()
    ]
    return result


def _dossiers(conn: sqlite3.Connection, column: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """Dossiers whose `column` (code or home_shelf) is one of `values`, by code."""
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(values), 500):
        chunk = values[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for code, name, home, home_shelf in conn.execute(
            f"SELECT code, name, home, home_shelf FROM dossiers WHERE {column} IN ({marks})", chunk
        ):
            found[code] = {"name": name, "home": home, "home_shelf": home_shelf}
    return found


def close(
    conn: sqlite3.Connection, locations: Locations, stocktake_id: int, *, by: str, at: datetime
) -> Reconciliation:
    """Freeze the findings and mark every visited shelf as checked now. `conn` in autocommit mode."""
    stocktake = get(conn, stocktake_id)
    if stocktake is None:
        raise StocktakeError(f"no stocktake {stocktake_id}")
    if stocktake["closed"]:
        raise StocktakeError(f"stocktake {stocktake_id} was closed already, at {stocktake['closed']}")
    closed = iso(at)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE stocktakes SET closed = ?, closed_by = ? WHERE id = ?", (closed, by, stocktake_id))
        result = reconcile(conn, locations, {**stocktake, "closed": closed}, at)
        conn.executemany(
            "INSERT OR REPLACE INTO stocktake_findings (stocktake, code, outcome, shelf, seen_at, ts)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (stocktake_id, row["code"], row["outcome"], locations.shelf_of(row["home"]), row["seen_at"], row["ts"])
                for row in result.rows()
            ],
        )
        conn.executemany(
            "INSERT INTO shelf_checks (shelf, checked, stocktake) VALUES (?, ?, ?)"
            " ON CONFLICT (shelf) DO UPDATE SET checked = excluded.checked, stocktake = excluded.stocktake",
            [(shelf, closed, stocktake_id) for shelf in result.visited],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    result.stocktake = {**stocktake, "closed": closed, "closed_by": by}
    return result


def shelf_checks(conn: sqlite3.Connection, locations: Locations, due_days: int, now: datetime) -> list[dict[str, Any]]:
    """Every shelf of the site with when it was last fully checked and whether a stocktake is due."""
    checked = dict(conn.execute("SELECT shelf, checked FROM shelf_checks").fetchall())
    dossiers = dict(conn.execute("SELECT home_shelf, count(*) FROM dossiers GROUP BY home_shelf").fetchall())
    limit = now - timedelta(days=due_days)
    shelves = []
    for room, codes in locations.rooms.items():
        for code in codes:
            last = checked.get(code)
            shelves.append(
                {
                    "shelf": code,
                    "room": room,
                    "label": locations.by_code[code].label,
                    "row": locations.by_code[code].parent,
                    "dossiers": dossiers.get(code, 0),
                    "checked": last,
                    "due": last is None or parse_iso(last) < limit,
                }
            )
    return shelves


def coverage(shelves: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per room: shelves, shelves checked within the due period, shelves due."""
    rooms: dict[str, dict[str, int]] = defaultdict(lambda: {"shelves": 0, "checked": 0, "due": 0})
    for shelf in shelves:
        counts = rooms[shelf["room"]]
        counts["shelves"] += 1
        counts["due" if shelf["due"] else "checked"] += 1
    return dict(rooms)


CSV_COLUMNS = ("outcome", "code", "name", "home", "seen_at", "ts", "reason")


def report_csv(result: Reconciliation) -> str:
    """The report as CSV (UTF-8 with a BOM, so a spreadsheet opens the Chinese names right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(("stocktake", result.stocktake["id"], "scope", result.stocktake["scope"], "started",
                     result.stocktake["started"], "closed", result.stocktake["closed"] or ""))  # fmt: skip
    writer.writerow(("shelves", len(result.shelves), "visited", len(result.visited), *sum(result.counts().items(), ())))
    writer.writerow(CSV_COLUMNS)
    for row in result.rows():
        writer.writerow([_safe(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (tag data and names come from outside)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
