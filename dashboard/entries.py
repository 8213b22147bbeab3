"""The access log and the entry register, from the gateways' `access` events (docs/PROTOCOL.md).

The log is every decision at a door with its reason, newest first. The register is who entered which
room, when, with whom, and when they left: an entry per person admitted by a grant (the grant's holder and
those it names in `with`), closed when that person badges out at the inside reader, or, for a party that
leaves by the exit button (which does not say who pressed it), when the button is next pressed at that
door after them: the party that came in first among those still inside is taken to leave (`left_by`
says `exit_button`, so the reader knows it is inferred).

Built from the events in the order they happened (`ts`), not the order they arrived: a gateway's backlog
sent after a broker outage fills the register in where it belongs.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

LOG_FIELDS = ("granted", "reason", "side", "reader", "badge", "holder", "holder_kind", "with", "detail")


def access_log(db: sqlite_utils.Database, limit: int = 200, room: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT gateway, seq, ts, room, device, data FROM events WHERE kind = 'access'"
    params: list[Any] = []
    if room:
        sql += " AND room = ?"
        params.append(room)
    rows = db.execute(sql + " ORDER BY ts DESC, seq DESC LIMIT ?", [*params, limit]).fetchall()
    log = []
    for gateway, seq, ts, room_id, door, data in rows:
        fields = json.loads(data)
        log.append({"ts": ts, "gateway": gateway, "seq": seq, "room": room_id, "door": door} | {
            f: fields.get(f) for f in LOG_FIELDS
        })  # fmt: skip
    return log


def register(db: sqlite_utils.Database, since: str | None = None) -> list[dict[str, Any]]:
    """Entries, newest first: room, door, person, kind, entered, with (list), left, left_by."""
    rows = db.execute(
        "SELECT ts, room, device, data FROM events WHERE kind = 'access' ORDER BY ts, gateway, seq"
    ).fetchall()
    entries: list[dict[str, Any]] = []
    inside: dict[str, list[list[dict[str, Any]]]] = {}  # room -> parties (in order of entry) still inside
    for ts, room, door, data in rows:
        fields = json.loads(data)
        if not fields.get("granted"):
            continue
        reason, holder = fields.get("reason"), fields.get("holder")
        parties = inside.setdefault(room, [])
        if reason == "granted" and holder:
            party_names = [*filter(None, (fields.get("with") or "").split(",")), holder]
            party = []
            for person in party_names:
                entry = {
                    "room": room,
                    "door": door,
                    "person": person,
                    "entered": ts,
                    "with": [p for p in party_names if p != person],
                    "left": None,
                    "left_by": None,
                }
                entries.append(entry)
                party.append(entry)
            parties.append(party)
        elif reason == "exit" and holder:
            for party in parties:
                match = [e for e in party if e["person"] == holder]
                if match:
                    match[0]["left"], match[0]["left_by"] = ts, "badge"
                    party.remove(match[0])
                    break
        elif reason == "exit_button" and parties:
            for entry in parties[0]:
                entry["left"], entry["left_by"] = ts, "exit_button"
            parties[0] = []
        inside[room] = [p for p in parties if p]
    if since:
        entries = [e for e in entries if e["entered"] >= since]
    return sorted(entries, key=lambda e: e["entered"], reverse=True)
