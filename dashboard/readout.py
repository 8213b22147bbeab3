"""What the dashboard shows, read from its database: rooms with their climate, gateways, ingest counters.

Plain functions over a `sqlite_utils.Database`, returning JSON-ready dicts (the API serves them as they
are and the overview page renders the same dicts), so the page and the API can never disagree.

Ages are measured from the reading's own `ts` when the gateway's clock was set (`synced`), else from
when the dashboard received it (an unset Pi clock may say 1970); never from later than its arrival.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlite_utils

from dashboard.schema import iso, parse_iso

SENSOR_STATES = ("ok", "degraded", "stale", "failed")
"""From best to worst; a room with several sensors shows the worst of their latest states."""


def age_s(now: datetime, moment: str | None) -> float | None:
    """Seconds from a stored timestamp to `now`; never negative (a gateway's clock may run ahead)."""
    if moment is None:
        return None
    return max(0.0, round((now - parse_iso(moment)).total_seconds(), 3))


def rooms(db: sqlite_utils.Database, now: datetime, stale_after_s: float) -> list[dict[str, Any]]:
    sensors: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in db.query("SELECT * FROM sensors ORDER BY site, room, configured DESC, sensor"):
        sensors[row["site"], row["room"]].append(_sensor(row, now, stale_after_s))
    devices: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in db.query("SELECT * FROM devices ORDER BY site, room, configured DESC, device"):
        devices[row["site"], row["room"]].append(row)

    shown = []
    for room in db.query(
        """SELECT r.*, coalesce(g.state, 'unknown') AS gateway_state FROM rooms r
           LEFT JOIN gateways g ON g.site = r.site AND g.gateway = r.gateway
           ORDER BY r.site, r.configured DESC, r.position, r.room"""
    ):
        key = (room["site"], room["room"])
        of_room = sensors[key]
        # The room's climate is its most recent reading that carries a value, from whichever sensor.
        valued = [s for s in of_room if s["value_seq"] is not None]
        latest = max(valued, key=lambda s: s["value_seq"], default=None)
        states = [s["state"] for s in of_room if s["state"] in SENSOR_STATES]
        age = latest["age_s"] if latest else None
        shown.append(
            {
                "site": room["site"],
                "id": room["room"],
                "name": room["name"] or room["room"],
                "configured": bool(room["configured"]),
                "gateway": room["gateway"],
                "gateway_state": room["gateway_state"],
                "temperature_c": latest["temperature_c"] if latest else None,
                "humidity_rh": latest["humidity_rh"] if latest else None,
                "ts": latest["value_ts"] if latest else None,
                "synced": latest["synced"] if latest else None,
                "age_s": age,
                "stale": age is None or age > stale_after_s,
                "state": max(states, key=SENSOR_STATES.index, default=None),
                "sensors": [{k: v for k, v in s.items() if k != "value_seq"} for s in of_room],
                "humidity_band": [room["humidity_low"], room["humidity_high"]] if room["humidity_low"] else None,
                # As the gateway combines the room's sensors: those it used (None until it has said).
                "used": json.loads(room["value_used"]) if room["value_used"] is not None else None,
                "mould_index": room["mould_index"],
                "relays": [_device(d, "on") for d in devices[key] if d["kind"] == "relay"],
                "doors": [_door(d) for d in devices[key] if d["kind"] == "door"],
            }
        )
    return shown


def _sensor(row: dict[str, Any], now: datetime, stale_after_s: float) -> dict[str, Any]:
    synced = None if row["value_synced"] is None else bool(row["value_synced"])
    # A reading cannot be younger than its arrival: a gateway clock running ahead must not hide staleness.
    measured = min(row["value_ts"], row["value_received"]) if synced else row["value_received"]
    age = age_s(now, measured)
    return {
        "id": row["sensor"],
        "type": row["type"],
        "state": row["state"],
        "error": row["error"],
        "temperature_c": row["temperature_c"],
        "humidity_rh": row["humidity_rh"],
        "value_ts": row["value_ts"],
        "value_seq": row["value_seq"],
        "synced": synced,
        "age_s": age,
        "stale": age is None or age > stale_after_s,
    }


def _device(row: dict[str, Any], field: str) -> dict[str, Any]:
    """A relay as {"on": ...} or a door as {"open": ...}; None while no message has said."""
    active = None if row["active"] is None else bool(row["active"])
    return {"id": row["device"], "type": row["type"], field: active, "changed": row["changed"]}


def _door(row: dict[str, Any]) -> dict[str, Any]:
    """A door as {"open": ...}, and for a door with a strike {"locked": ...} (None while no message has said)."""
    locked = None if row["locked"] is None else bool(row["locked"])
    return _device(row, "open") | {"locked": locked, "locked_changed": row["locked_changed"]}


def gateways(db: sqlite_utils.Database, now: datetime) -> list[dict[str, Any]]:
    gaps: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for gap in db.query("SELECT * FROM gaps ORDER BY site, gateway, first"):
        gaps[gap["site"], gap["gateway"]].append(
            {
                "first": gap["first"],
                "last": gap["last"],
                "missing": gap["last"] - gap["first"] + 1,
                "opened": gap["opened"],
            }
        )
    shown = []
    for row in db.query("SELECT * FROM gateways ORDER BY site, configured DESC, position, gateway"):
        open_gaps = gaps[row["site"], row["gateway"]]
        shown.append(
            {
                "site": row["site"],
                "id": row["gateway"],
                "name": row["name"] or row["gateway"],
                "configured": bool(row["configured"]),
                "software": row["software"],
                "state": row["state"],
                "online": row["state"] == "online",
                "session": row["session"],
                "since": row["since"],
                "since_age_s": age_s(now, row["since"]),
                "last_seen": row["last_seen"],
                "last_seen_age_s": age_s(now, row["last_seen"]),
                "last_seq": row["last_seq"],
                "messages": row["messages"],
                "duplicates": row["duplicates"],
                "missing": sum(g["missing"] for g in open_gaps),
                "gaps": open_gaps,
            }
        )
    return shown


def ingest_stats(db: sqlite_utils.Database) -> dict[str, Any]:
    counts = {(r["outcome"], r["reason"]): r["count"] for r in db.query("SELECT * FROM ingest_counts")}

    def by_reason(outcome: str) -> dict[str, int]:
        return {reason: n for (o, reason), n in sorted(counts.items()) if o == outcome}

    refused = by_reason("refused")
    return {
        "accepted": counts.get(("accepted", ""), 0),
        "duplicates": counts.get(("duplicate", ""), 0),
        "conflicts": sum(by_reason("conflict").values()),
        "ignored": by_reason("ignored"),
        "refused": refused,
        "refused_total": sum(refused.values()),
    }


def recent_rejects(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT received, topic, reason, message, size, preview FROM rejects ORDER BY id DESC LIMIT ?", [limit]
        )
    )


def history(
    db: sqlite_utils.Database, site: str, room: str, *, since: datetime, until: datetime, buckets: int
) -> list[dict]:
    """A room's readings between `since` and `until`, averaged over `buckets` equal slices (empty ones left out).

    Only fresh values count (state ok): a degraded or stale reading repeats an older value, which would
    draw a flat line where the room was not measured. Averaging in SQLite keeps a month of 5-second
    readings (half a million rows) from ever leaving the database: the page gets a few hundred points
    whatever the period.
    """
    start, end = since.timestamp(), until.timestamp()
    width = max((end - start) / buckets, 1.0)
    rows = db.execute(
        """SELECT CAST((strftime('%s', ts) - ?) / ? AS INTEGER) AS slot,
                  avg(temperature_c), avg(humidity_rh), count(*)
           FROM readings
           WHERE site = ? AND room = ? AND ts >= ? AND ts <= ? AND state = 'ok'
           GROUP BY slot ORDER BY slot""",
        (start, width, site, room, iso(since), iso(until)),
    ).fetchall()
    return [
        {
            "t": round(start + (slot + 0.5) * width, 1),
            "temperature_c": round(temperature, 2) if temperature is not None else None,
            "humidity_rh": round(humidity, 2),
            "readings": count,
        }
        for slot, temperature, humidity, count in rows
    ]
