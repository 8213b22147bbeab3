"""How values read on the page: ages, numbers, states, gaps; in English with Chinese labels alongside.

The same words are handed to static/overview.js (as `LABELS`, in a data attribute of the page), so a
value reads the same whether the server rendered it or the live update did. Full i18n comes later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

LABELS: dict[str, str] = {
    "online": "online 在线",
    "offline": "offline 离线",
    "unknown": "never seen 未上线",
    "relay_on": "on 运行",
    "relay_off": "off 停止",
    "door_open": "open 开",
    "door_closed": "closed 关",
    "not_reported": "not reported 未报告",
    "no_reading": "no reading yet 尚无读数",
    "no_gaps": "none 无",
    "no_value": "—",
    "live": "live 实时",
    "paused": "updates paused, retrying 更新暂停，重试中",
}


def age_text(seconds: float | None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago'; mirrored by `ageText` in static/overview.js."""
    if seconds is None:
        return LABELS["no_reading"]
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def value_text(value: float | None) -> str:
    """One decimal, as the sensors resolve; a dash for no value."""
    return LABELS["no_value"] if value is None else f"{value:.1f}"


def switch_text(device: dict[str, Any]) -> str:
    """A relay's or a door's state in words; `not reported` until a message says."""
    if "on" in device:
        active, yes, no = device["on"], "relay_on", "relay_off"
    else:
        active, yes, no = device["open"], "door_open", "door_closed"
    return LABELS["not_reported"] if active is None else LABELS[yes if active else no]


def gaps_text(gaps: list[dict[str, Any]]) -> str:
    """'1043–1050 (8), 1203 (1)' or 'none'."""
    if not gaps:
        return LABELS["no_gaps"]
    return ", ".join(
        (f"{g['first']}" if g["first"] == g["last"] else f"{g['first']}–{g['last']}") + f" ({g['missing']})"
        for g in gaps
    )


def local_time(stored: str | None, zone: str) -> str:
    """A stored UTC time as the site's wall clock reads it: '2026-11-22 20:45:22 CST'.

    The database keeps UTC; people read the storeroom's local time (Asia/Shanghai for the demo).
    """
    if not stored:
        return LABELS["no_value"]
    moment = datetime.fromisoformat(stored).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def init_app(app: Flask) -> None:
    zone = app.config["SITE"].site.timezone
    app.jinja_env.filters.update(age=age_text, value=value_text, switch=switch_text, gaps=gaps_text)
    app.jinja_env.filters["local"] = lambda stored: local_time(stored, zone)
    app.jinja_env.globals.update(LABELS=LABELS)
