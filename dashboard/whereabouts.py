"""Where a dossier is now: its home, where its tag was last read, its state, and its history.

A dossier's tag reads are the `tag_read` events with its code (indexed by code). Where a read happened is
the reader's location, except at a keeper's station during a stocktake or a look-up: there a location tag
read just before (same reader, within CONTEXT_S) says on which shelf the dossier was found.

States, from the strongest evidence down:
- `on_loan`: checked out and not returned (dashboard/loans.py, when loans are in use);
- `at_copy_stand`: last read at the copy stand;
- `missing`: the last stocktake of its shelf did not find it, and it has not been read since;
- `at_desk` / `at_door`: last read at the issue desk or a door;
- `misplaced`: last read on a shelf other than its home;
- `on_shelf`: last read at home, or never read anywhere since it was registered.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dashboard.locations import HOME_FIELDS, Locations
from dashboard.schema import parse_iso

CONTEXT_S = 30 * 60
"""A location tag read at a station says where the dossiers read after it are, for this long."""
CONTEXT_READS = 500
"""How many earlier reads at the same reader are looked through for that location tag, at most."""
STATES = ("on_shelf", "on_loan", "at_copy_stand", "missing", "at_desk", "at_door", "misplaced")


@dataclass(frozen=True)
class Sighting:
    ts: str
    gateway: str
    reader: str
    reader_location: str
    place: str
    """The location code where the dossier was, as precisely as known (a shelf or box, a desk, a door)."""
    place_kind: str
    """desk, door, copy_stand, shelf, box, row, room, or station (a reader somewhere not in the tree)."""

    def as_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "gateway": self.gateway, "reader": self.reader, "reader_location": self.reader_location,
                "place": self.place, "place_kind": self.place_kind}  # fmt: skip


def place_of_read(
    conn: sqlite3.Connection, locations: Locations, gateway: str, seq: int, ts: str, reader: str, where: str
) -> tuple[str, str]:
    """(location code, kind) of a dossier read at `reader` (whose configured location is `where`)."""
    kind = locations.reader_kind(where)
    if kind != "station":
        return where, kind
    since = (parse_iso(ts) - timedelta(seconds=CONTEXT_S)).isoformat().replace("+00:00", "Z")
    rows = conn.execute(
        "SELECT data FROM events WHERE gateway = ? AND seq < ? AND seq >= ? AND kind = 'tag_read' AND device = ?"
        " AND ts >= ? ORDER BY seq DESC",
        (gateway, seq, seq - CONTEXT_READS, reader, since),
    )
    for (data,) in rows:
        fields = json.loads(data)
        if fields.get("valid") is True and fields.get("kind") == "location":
            location = locations.get(fields.get("code"))
            if location is not None:
                return location.code, location.kind
            break
    location = locations.get(where)
    return where, location.kind if location else "station"


def sightings(conn: sqlite3.Connection, locations: Locations, code: str, limit: int = 50) -> list[Sighting]:
    """The dossier's genuine tag reads, newest first."""
    rows = conn.execute(
        "SELECT gateway, seq, ts, device, data FROM events WHERE json_extract(data, '$.code') = ?"
        " AND kind = 'tag_read' ORDER BY ts DESC LIMIT ?",
        (code, limit * 2),
    ).fetchall()
    found = []
    for gateway, seq, ts, device, data in rows:
        fields = json.loads(data)
        if fields.get("valid") is not True or fields.get("kind") != "dossier":
            continue  # a forged copy of this dossier's tag says nothing about where the dossier is
        where = str(fields.get("location") or "")
        reader = str(fields.get("reader") or device or "")
        place, kind = place_of_read(conn, locations, gateway, seq, ts, reader, where)
        found.append(Sighting(ts, gateway, reader, where, place, kind))
    return found[:limit]


def last_finding(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    """What the most recent closed stocktake said of this dossier, if any did."""
    row = conn.execute(
        "SELECT f.stocktake, f.outcome, f.shelf, f.seen_at, s.closed FROM stocktake_findings f"
        " JOIN stocktakes s ON s.id = f.stocktake WHERE f.code = ? ORDER BY f.stocktake DESC LIMIT 1",
        (code,),
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("stocktake", "outcome", "shelf", "seen_at", "closed"), row, strict=True))


def open_loan(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    """The dossier's current checkout, when loans are in use (the `loans` table of dashboard/loans.py)."""
    try:
        from dashboard import loans
    except ImportError:
        return None
    return loans.current_checkout(conn, code)


def state_of(
    home_shelf: str | None, seen: Sighting | None, finding: dict[str, Any] | None, loan: dict[str, Any] | None,
    locations: Locations,
) -> str:  # fmt: skip
    if loan is not None:
        return "on_loan"
    if seen is not None and seen.place_kind == "copy_stand":
        return "at_copy_stand"
    if finding is not None and finding["outcome"] == "missing" and (seen is None or seen.ts < finding["closed"]):
        return "missing"
    if seen is not None and seen.place_kind in ("desk", "door"):
        return f"at_{seen.place_kind}"
    if seen is not None and seen.place_kind in ("shelf", "box", "row"):
        seen_shelf = locations.shelf_of(seen.place)
        if home_shelf and seen_shelf != home_shelf and not (seen.place_kind == "row" and
                                                            locations.within(home_shelf, seen.place)):  # fmt: skip
            return "misplaced"
    return "on_shelf"


def whereabouts(conn: sqlite3.Connection, locations: Locations, code: str) -> dict[str, Any] | None:
    """Everything the dossier page shows of where a dossier is; None if the register does not know it."""
    row = conn.execute(
        "SELECT code, name, unit, fields, home, home_room, home_shelf, imported, source FROM dossiers WHERE code = ?",
        (code,),
    ).fetchone()
    if row is None:
        return None
    code, name, unit, fields, home, home_room, home_shelf, imported, source = row
    seen = sightings(conn, locations, code)
    finding = last_finding(conn, code)
    loan = open_loan(conn, code)
    last = seen[0] if seen else None
    return {
        "code": code,
        "name": name,
        "unit": unit,
        "fields": {k: v for k, v in json.loads(fields).items() if k not in HOME_FIELDS},  # the home is shown apart
        "home": home,
        "home_path": [loc.label for loc in locations.path(home)[1:]],
        "home_room": home_room,
        "home_shelf": home_shelf,
        "imported": imported,
        "source": source,
        "last_seen": last.as_dict() if last else None,
        "last_seen_path": [loc.label for loc in locations.path(last.place)[1:]] if last else [],
        "state": state_of(home_shelf, last, finding, loan, locations),
        "loan": loan,
        "finding": finding,
        "history": [s.as_dict() for s in seen],
        "records": records(conn, code),
    }


def records(conn: sqlite3.Connection, code: str, limit: int = 50) -> list[dict[str, Any]]:
    """The dossier's loans (checked out, returned) and stocktake findings, newest first."""
    found = [
        {
            "ts": ts,
            "what": kind.removeprefix("dossier_"),
            "detail": data.get("borrower") or "",
            "loan": data.get("loan"),
        }
        for kind, ts, data in _loan_events(conn, code)
    ]
    for number, outcome, seen_at, closed in conn.execute(
        "SELECT f.stocktake, f.outcome, f.seen_at, s.closed FROM stocktake_findings f JOIN stocktakes s"
        " ON s.id = f.stocktake WHERE f.code = ? ORDER BY f.stocktake DESC LIMIT ?",
        (code, limit),
    ):
        found.append({"ts": closed, "what": f"stocktake_{outcome}", "detail": seen_at or "", "stocktake": number})
    return sorted(found, key=lambda r: r["ts"] or "", reverse=True)[:limit]


def _loan_events(conn: sqlite3.Connection, code: str) -> list[tuple[str, str, dict[str, Any]]]:
    from dashboard import loans

    return loans.events_of(conn, code)
