"""How values read on the page: ages, numbers, states, gaps, times, in the visitor's language.

The same words are handed to static/overview.js (as `labels()`, in a data attribute of the page), so a
value reads the same whether the server rendered it or the live update did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import lazy_gettext as _l

# Words the live page needs in JavaScript too. Keys are stable; values are msgids, translated per request.
LABELS: dict[str, str] = {
    "online": _l("online"),
    "offline": _l("offline"),
    "unknown": _l("never seen"),
    "relay_on": _l("on"),
    "relay_off": _l("off"),
    "door_open": _l("open"),
    "door_closed": _l("closed"),
    "not_reported": _l("not reported"),
    "no_reading": _l("no reading yet"),
    "no_gaps": _l("none"),
    "no_value": "—",
    "live": _l("live"),
    "paused": _l("updates paused, retrying"),
    "seconds_ago": _l("%(n)s s ago"),
    "minutes_ago": _l("%(n)s min ago"),
    "hours_ago": _l("%(n)s h ago"),
    "days_ago": _l("%(n)s d ago"),
    "sensor_ok": _l("ok"),
    "sensor_degraded": _l("degraded"),
    "sensor_stale": _l("stale"),
    "sensor_failed": _l("failed"),
    "dehumidifier": _l("Dehumidifier"),
    "door": _l("Door"),
    "tag_dossier": _l("dossier"),
    "tag_location": _l("location"),
    "tag_badge": _l("badge"),
}

SCAN_REASONS: dict[str, str] = {
    "bad_mac": _l("forged or copied from another tag"),
    "not_a_tag": _l("not a storeroom tag (blank or foreign)"),
    "unknown_key": _l("written with a key this site does not have"),
    "bad_crc": _l("garbled read or damaged tag"),
    "truncated": _l("incomplete data"),
    "incomplete_read": _l("taken away mid-read"),
    "collision": _l("two tags at once"),
    "unsupported_version": _l("newer tag layout"),
    "bad_kind": _l("unknown kind of tag"),
    "bad_code": _l("invalid code"),
    "bad_uid": _l("invalid UID"),
}
"""Why a tag was refused (rfid/tagformat.py REASONS and the reader's own), in the visitor's words."""


def scan_reasons() -> dict[str, str]:
    return {key: str(value) for key, value in SCAN_REASONS.items()}


def labels() -> dict[str, str]:
    """LABELS in the language of the current request."""
    return {key: str(value) for key, value in LABELS.items()}


def age_text(seconds: float | None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago'; mirrored by `ageText` in static/overview.js."""
    if seconds is None:
        return str(LABELS["no_reading"])
    if seconds < 90:
        return str(LABELS["seconds_ago"]) % {"n": f"{seconds:.0f}"}
    if seconds < 90 * 60:
        return str(LABELS["minutes_ago"]) % {"n": f"{seconds / 60:.0f}"}
    if seconds < 48 * 3600:
        return str(LABELS["hours_ago"]) % {"n": f"{seconds / 3600:.0f}"}
    return str(LABELS["days_ago"]) % {"n": f"{seconds / 86400:.0f}"}


def value_text(value: float | None) -> str:
    """One decimal, as the sensors resolve; a dash for no value."""
    return str(LABELS["no_value"]) if value is None else f"{value:.1f}"


def switch_text(device: dict[str, Any]) -> str:
    """A relay's or a door's state in words; `not reported` until a message says."""
    if "on" in device:
        active, yes, no = device["on"], "relay_on", "relay_off"
    else:
        active, yes, no = device["open"], "door_open", "door_closed"
    return str(LABELS["not_reported"] if active is None else LABELS[yes if active else no])


def gaps_text(gaps: list[dict[str, Any]]) -> str:
    """'1043–1050 (8), 1203 (1)' or 'none'."""
    if not gaps:
        return str(LABELS["no_gaps"])
    return ", ".join(
        (f"{g['first']}" if g["first"] == g["last"] else f"{g['first']}–{g['last']}") + f" ({g['missing']})"
        for g in gaps
    )


def local_time(stored: str | None, zone: str) -> str:
    """A stored UTC time as the site's wall clock reads it: '2026-11-22 20:45:22 CST'.

    The database keeps UTC; people read the storeroom's local time (Asia/Shanghai for the demo).
    """
    if not stored:
        return str(LABELS["no_value"])
    moment = datetime.fromisoformat(stored).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def init_app(app: Flask) -> None:
    zone = app.config["SITE"].site.timezone
    app.jinja_env.filters.update(age=age_text, value=value_text, switch=switch_text, gaps=gaps_text)
    app.jinja_env.filters["local"] = lambda stored: local_time(stored, zone)
    app.jinja_env.globals.update(labels=labels, scan_reasons=scan_reasons)
