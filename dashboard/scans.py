"""Recent tag scans: every tag presented at a reader, with invalid ones (forged, foreign, garbled) and dossier
codes the register does not know flagged.

The gateways send one `tag_read` event per presentation (docs/PROTOCOL.md); this page and /api/scans show
the latest of them, newest first. A keeper sees at once that a tag read as forged or not one of ours.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from flask import Blueprint, render_template

from dashboard.connection import store
from dashboard.register import registered

bp = Blueprint("scans", __name__, url_prefix="/scans")
LIMIT = 200
FIELDS = ("reader", "location", "uid", "valid", "kind", "code", "reason", "detail")


def recent(db: sqlite_utils.Database, limit: int = LIMIT) -> list[dict[str, Any]]:
    """The latest tag reads, newest first, each with when and by which gateway."""
    rows = db.execute(
        "SELECT gateway, seq, ts, data FROM events WHERE kind = 'tag_read' ORDER BY ts DESC, seq DESC LIMIT ?",
        (limit,),
    ).fetchall()
    scans = []
    for gateway, seq, ts, data in rows:
        fields = json.loads(data)
        scan = {"ts": ts, "gateway": gateway, "seq": seq} | {f: fields.get(f) for f in FIELDS}
        scan["valid"] = fields.get("valid") is True  # anything not saying valid is not
        scans.append(scan)
    dossiers = [s["code"] for s in scans if s["valid"] and s["kind"] == "dossier"]
    known = registered(db.conn, sorted(set(dossiers)))
    for scan in scans:
        # A genuine dossier tag whose code the register does not know: enrolled elsewhere, or never imported.
        scan["registered"] = scan["code"] in known if scan["valid"] and scan["kind"] == "dossier" else None
    return scans


@bp.get("/")
def page() -> str:
    return render_template("scans.html", scans=recent(store().db))
