"""Gateways' events and alerts in the reader's language.

A gateway words each event in English (`message`), for its own log. The dashboard words it anew from what
the event says in fields: its kind, room, device and data (docs/PROTOCOL.md), through one table of
translatable sentences. A kind the table does not know (a newer gateway's) is shown in the gateway's own
words, marked as such; so is a known kind whose data lacks what its sentence needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

TEXTS: dict[str, Any] = {
    # climate (gateway/climate_watch.py, gateway/controller.py, gateway/climate.py)
    "temperature_high": _l("Temperature %(value)s, above its limit of %(limit)s"),
    "temperature_low": _l("Temperature %(value)s, below its limit of %(limit)s"),
    "humidity_high": _l("Humidity %(value)s, above its limit of %(limit)s"),
    "humidity_low": _l("Humidity %(value)s, below its limit of %(limit)s"),
    "temperature_swing": _l("Temperature swung %(value)s within 24 h (at most %(limit)s)"),
    "humidity_swing": _l("Humidity swung %(value)s within 24 h (at most %(limit)s)"),
    "condensation_risk": _l("Dew point %(value)s, close to the coldest surface (at most %(limit)s)"),
    "mould_risk": _l("Mould index %(value)s (limit %(limit)s): damp has lasted long enough for mould to start"),
    "sensor_stale": _l("Sensor %(device)s: its value is too old to control by"),
    "sensor_failed": _l("Sensor %(device)s has failed"),
    "climate_fail_safe": _l("No usable humidity in %(room)s: the dehumidifiers are in their safe state"),
    "dehumidifier_tank_full": _l("%(device)s: tank full, unit stopped; empty it"),
    "dehumidifier_fault": _l("%(device)s is not lowering the humidity: stopped, to be tried again"),
    "dehumidifier_long_run": _l("%(device)s has run for hours without a rest"),
    "relay:on": _l("%(device)s switched on"),
    "relay:off": _l("%(device)s switched off"),
    # readers, copy stands and pages (gateway/service.py, gateway/copystand.py, gateway/uploads.py)
    "reader_fault": _l("Tag reader %(device)s stopped answering"),
    "tag_read:valid": _l("Tag %(code)s read at %(location)s"),
    "tag_read:invalid": _l("An invalid tag was presented at %(location)s"),
    "stand_session:open": _l("Copy stand %(device)s: session for %(dossier)s opened"),
    "stand_session:closed": _l("Copy stand %(device)s: session for %(dossier)s closed, %(pages)s pages"),
    "page": _l("%(dossier)s page %(page)s saved"),
    "dossier_scanned": _l("%(dossier)s: %(pages)s pages scanned"),
    # doors (gateway/doors.py)
    "door:open": _l("%(device)s opened"),
    "door:closed": _l("%(device)s closed"),
    "access:granted": _l("%(device)s: %(holder)s let in or out"),
    "access:refused": _l("%(device)s: a badge was refused"),
    "door_forced": _l("%(device)s forced open (opened while locked, without a grant)"),
    "door_held_open": _l("%(device)s has been held open too long"),
    "door_tamper": _l("%(device)s: the reader's tamper loop is open"),
    "strike_fault": _l("%(device)s: the lock does not follow its relay"),
    "emergency_release": _l("%(device)s released by the emergency input (fire alarm)"),
    "permissions:applied": _l("Permission document %(version)s in force"),
    "permissions:refused": _l("Permission document %(version)s refused"),
    # the dashboard's own checks (dashboard/alerts.py)
    "gateway_offline": _l("Gateway %(gateway)s is offline: its rooms are not watched from here"),
    "seq_gap": _l("Messages from %(gateway)s are missing (gaps in seq)"),
}
"""Sentence per kind (or `kind:variant`), its placeholders filled from the event's fields and data."""

VARIANTS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "relay": lambda data: "on" if data.get("on") else "off",
    "tag_read": lambda data: "valid" if data.get("valid") is True else "invalid",
    "stand_session": lambda data: "closed" if data.get("state") == "closed" else "open",
    "door": lambda data: "open" if data.get("open") else "closed",
    "access": lambda data: "granted" if data.get("granted") is True else "refused",
    "permissions": lambda data: "applied" if data.get("applied") is True else "refused",
}
"""Kinds worded by what their data says: the key's suffix in TEXTS."""

UNITS = {
    "temperature_high": " °C",
    "temperature_low": " °C",
    "temperature_swing": " °C",
    "condensation_risk": " °C",
    "humidity_high": " % RH",
    "humidity_low": " % RH",
    "humidity_swing": " % RH",
}
"""Units of `value` and `limit` per kind; the mould index has none."""

CLEARED = _l("Over: %(what)s")
GATEWAY_WORDS = _l("in the gateway's own words")

SEVERITIES = {"info": _l("info"), "warning": _l("warning"), "alarm": _l("alarm")}


def _number(value: Any, unit: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return f"{value:.1f}{unit}" if unit else f"{value:.2f}"


def key_of(kind: str, data: Mapping[str, Any]) -> str:
    return f"{kind}:{VARIANTS[kind](data)}" if kind in VARIANTS else kind


def known(kind: str, data: Mapping[str, Any] | None = None) -> bool:
    return key_of(kind, data or {}) in TEXTS


def sentence(
    kind: str,
    *,
    data: Mapping[str, Any] | None = None,
    room: str | None = None,
    device: str | None = None,
    gateway: str | None = None,
) -> str | None:
    """The event in the current request's language, or None when the table cannot word it."""
    data = data or {}
    template = TEXTS.get(key_of(kind, data))
    if template is None:
        return None
    unit = UNITS.get(kind, "")
    fields = {key: _number(value, unit) for key, value in data.items() if key in ("value", "limit")}
    fields |= {key: value for key, value in data.items() if key not in fields}
    fields |= {key: value for key, value in (("room", room), ("device", device), ("gateway", gateway)) if value}
    try:
        text = str(template) % fields
    except (KeyError, TypeError, ValueError):
        return None  # an event without the fields its sentence needs: the gateway's words will do
    return str(CLEARED) % {"what": text} if data.get("cleared") is True else text


def alert_text(alert: Mapping[str, Any]) -> Markup:
    """An alert (or event) row as HTML: our sentence, else the gateway's message marked as its own words."""
    text = sentence(
        alert["kind"],
        data=alert.get("data"),
        room=alert.get("room"),
        device=alert.get("device"),
        gateway=alert.get("gateway"),
    )
    if text is not None:
        return escape(text)
    words = alert.get("message") or alert["kind"]
    return Markup('<q class="gateway-words" lang="en" title="{}">{}</q>').format(str(GATEWAY_WORDS), words)


def severity_text(severity: str) -> str:
    return str(SEVERITIES.get(severity, severity))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(alert_text=alert_text, severity=severity_text)
