"""Alerts: the one place where gateways' alarms and the ingest's own checks become something a person handles.

Sources, each with a key so the same trouble raises one alert, not one per message:
- an event of severity warning or alarm (`<kind>:<room>/<device>`); `device_recovered` ends the
  matching `device_error`, and an event whose data says `cleared: true` ends its own kind;
- a gateway going offline (`gateway_offline:<gateway>`), ended when it is back online;
- a gap in a gateway's seq (`seq_gap:<gateway>`), ended when the missing messages have all arrived.
An alert that ends by itself stays in the history; a person acknowledges it with a comment, audited.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

ENDED_BY = {"device_recovered": "device_error"}
"""Events that end an alert raised by an earlier event of another kind on the same device."""
SEVERITY_ORDER = {"alarm": 0, "warning": 1, "info": 2}


def raise_alert(
    conn: sqlite3.Connection,
    *,
    site: str,
    gateway: str,
    room: str | None,
    key: str,
    kind: str,
    severity: str,
    message: str,
    at: str,
    device: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Open an alert unless one with this key is active already.

    `message` is the gateway's own words; `kind`, `room`, `device` and `data` let each page word it anew in
    its reader's language (dashboard/event_text.py).
    """
    conn.execute(
        "INSERT OR IGNORE INTO alerts (site, gateway, room, key, kind, severity, message, started, device, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (site, gateway, room, key, kind, severity, message, at, device, json.dumps(data or {}, ensure_ascii=False)),
    )


def end_alert(conn: sqlite3.Connection, *, site: str, key: str, at: str) -> None:
    conn.execute("UPDATE alerts SET ended = ? WHERE site = ? AND key = ? AND ended IS NULL", (at, site, key))


def on_event(conn: sqlite3.Connection, row: dict[str, Any], body: Any) -> None:
    """A gateway's event: raise, or end, an alert."""
    site, gateway, at = row["site"], row["gateway"], row["ts"]
    where = f"{body.room or '-'}/{body.device or '-'}"
    if body.kind in ENDED_BY:
        end_alert(conn, site=site, key=f"{ENDED_BY[body.kind]}:{where}", at=at)
    elif body.data.get("cleared") is True:
        end_alert(conn, site=site, key=f"{body.kind}:{where}", at=at)
    elif body.severity in ("warning", "alarm"):
        raise_alert(
            conn,
            site=site,
            gateway=gateway,
            room=body.room,
            key=f"{body.kind}:{where}",
            kind=body.kind,
            severity=body.severity,
            message=body.message or body.kind,
            at=at,
            device=body.device,
            data=body.data,
        )


def on_status(conn: sqlite3.Connection, *, site: str, gateway: str, state: str, at: str) -> None:
    key = f"gateway_offline:{gateway}"
    if state == "offline":
        raise_alert(
            conn,
            site=site,
            gateway=gateway,
            room=None,
            key=key,
            kind="gateway_offline",
            severity="alarm",
            message=f"gateway {gateway} is offline: its rooms are not watched from here",
            at=at,
        )
    else:
        end_alert(conn, site=site, key=key, at=at)


def on_gaps(conn: sqlite3.Connection, *, site: str, gateway: str, missing: int, at: str) -> None:
    """Called after a gateway's gaps changed; `missing` is how many messages are still missing."""
    key = f"seq_gap:{gateway}"
    if missing:
        raise_alert(
            conn,
            site=site,
            gateway=gateway,
            room=None,
            key=key,
            kind="seq_gap",
            severity="warning",
            message=f"messages from {gateway} are missing (gaps in seq)",
            at=at,
        )
    else:
        end_alert(conn, site=site, key=key, at=at)


COLUMNS = (
    "id",
    "gateway",
    "room",
    "kind",
    "severity",
    "message",
    "started",
    "ended",
    "acked_by",
    "acked_at",
    "comment",
    "device",
    "data",
)


def _dicts(rows: list[tuple]) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        alert = dict(zip(COLUMNS, row, strict=True))
        alert["data"] = json.loads(alert["data"] or "{}")
        found.append({**alert, "active": alert["ended"] is None})
    return found


def active(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Active alerts, the most severe and then the oldest first."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE ended IS NULL"
        " ORDER BY CASE severity WHEN 'alarm' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, started"
    ).fetchall()
    return _dicts(rows)


def history(conn: sqlite3.Connection, limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM alerts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return _dicts(rows)


def acknowledge(conn: sqlite3.Connection, alert_id: int, *, by: str, at: str, comment: str) -> bool:
    """Record who acknowledged an alert, when, and what they said. False if there is no such alert."""
    cursor = conn.execute(
        "UPDATE alerts SET acked_by = ?, acked_at = ?, comment = ? WHERE id = ?", (by, at, comment[:1000], alert_id)
    )
    return cursor.rowcount == 1


def by_trouble(rooms: list[dict[str, Any]], active_alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rooms in trouble first: by their worst active alert (their own or their gateway's), then stale ones."""
    worst: dict[str, int] = {}
    for alert in active_alerts:
        rank = SEVERITY_ORDER.get(alert["severity"], 2)
        for room in rooms:
            if alert["room"] == room["id"] or (alert["room"] is None and alert["gateway"] == room.get("gateway")):
                worst[room["id"]] = min(worst.get(room["id"], 3), rank)
    # sorted() is stable: rooms alike in trouble keep the configured order.
    return sorted(rooms, key=lambda room: (worst.get(room["id"], 3), not room.get("stale", False)))
