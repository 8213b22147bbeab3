"""A room's climate over a period, as facilities staff judge it: preservation metrics and dehumidifier run time.

The metrics are the Image Permanence Institute's (sensors/preservation.py, where the formulas are cited),
computed from 10-minute averages of the room's fresh readings: fine enough for a day's swings, light
enough for 30 days on every page view. Run time comes from the gateways' relay events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from dashboard.readout import history
from dashboard.schema import iso, parse_iso
from sensors.preservation import Point, metrics

AVERAGE_S = 600.0


def preservation(db: sqlite_utils.Database, site: str, room: str, *, since: datetime, until: datetime) -> dict | None:
    """The IPI metrics of a room between `since` and `until`, or None without readings."""
    buckets = max(1, round((until - since).total_seconds() / AVERAGE_S))
    points = [
        Point(p["t"], p["temperature_c"], p["humidity_rh"])
        for p in history(db, site, room, since=since, until=until, buckets=buckets)
        if p["temperature_c"] is not None
    ]
    return metrics(points) if points else None


def run_time(db: sqlite_utils.Database, site: str, room: str, *, since: datetime, until: datetime) -> list[dict]:
    """Each dehumidifier of the room: seconds it ran between `since` and `until`, and its switchings."""
    rows = db.execute(
        """SELECT device, ts, data FROM events
           WHERE site = ? AND room = ? AND kind = 'relay' AND ts <= ? ORDER BY device, ts""",
        (site, room, iso(until)),
    ).fetchall()
    start, end = since.timestamp(), until.timestamp()
    units: dict[str, dict[str, Any]] = {}
    for device, ts, data in rows:
        on = json.loads(data).get("on")
        if not isinstance(on, bool):
            continue
        unit = units.setdefault(device, {"unit": device, "run_s": 0.0, "starts": 0, "on_since": None})
        t = parse_iso(ts).timestamp()
        if on and unit["on_since"] is None:
            unit["on_since"] = t
            unit["starts"] += t >= start
        elif not on and unit["on_since"] is not None:
            unit["run_s"] += max(0.0, min(t, end) - max(unit["on_since"], start))
            unit["on_since"] = None
    for unit in units.values():
        if unit["on_since"] is not None:
            unit["run_s"] += max(0.0, end - max(unit["on_since"], start))
        unit["run_s"] = round(unit["run_s"], 1)
        unit["share"] = round(unit["run_s"] / max(end - start, 1.0), 4)
        unit["on_since"] = iso(datetime.fromtimestamp(unit["on_since"], until.tzinfo)) if unit["on_since"] else None
    return sorted(units.values(), key=lambda u: u["unit"])
