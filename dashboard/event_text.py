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
from flask_babel import gettext
from markupsafe import Markup, escape

from dashboard.access import N_

TEXTS: dict[str, str] = {
    # climate (gateway/climate_watch.py, gateway/controller.py, gateway/climate.py)
    "temperature_high": N_("Temperature %(value)s, above its limit of %(limit)s"),
    "temperature_low": N_("Temperature %(value)s, below its limit of %(limit)s"),
    "humidity_high": N_("Humidity %(value)s, above its limit of %(limit)s"),
    "humidity_low": N_("Humidity %(value)s, below its limit of %(limit)s"),
    "temperature_swing": N_("Temperature swung %(value)s within 24 h (at most %(limit)s)"),
    "humidity_swing": N_("Humidity swung %(value)s within 24 h (at most %(limit)s)"),
    "condensation_risk": N_("Dew point %(value)s, close to the coldest surface (at most %(limit)s)"),
    "mould_risk": N_("Mould index %(value)s (limit %(limit)s): damp has lasted long enough for mould to start"),
    "sensor_stale": N_("Sensor %(device)s: its value is too old to control by"),
    "sensor_failed": N_("Sensor %(device)s has failed"),
    "climate_fail_safe": N_("No usable humidity in %(room)s: the dehumidifiers are in their safe state"),
    "dehumidifier_tank_full": N_("%(device)s: tank full, unit stopped; empty it"),
    "dehumidifier_fault": N_("%(device)s is not lowering the humidity: stopped, to be tried again"),
    "dehumidifier_long_run": N_("%(device)s has run for hours without a rest"),
    "relay:on": N_("%(device)s switched on"),
    "relay:off": N_("%(device)s switched off"),
    # readers, copy stands and pages (gateway/service.py, gateway/copystand.py, gateway/uploads.py)
    "reader_fault": N_("Tag reader %(device)s stopped answering"),
    "disk_low": N_("Gateway %(gateway)s is running out of disk space: %(free_mb)s MB free"),
    "disk_full": N_("Gateway %(gateway)s: disk full (%(free_mb)s MB free), its copy stands take no pages"),
    "tag_read:valid": N_("Tag %(code)s read at %(location)s"),
    "tag_read:invalid": N_("An invalid tag was presented at %(location)s"),
    "stand_session:open": N_("Copy stand %(device)s: session for %(dossier)s opened"),
    "stand_session:closed": N_("Copy stand %(device)s: session for %(dossier)s closed, %(pages)s pages"),
    "page": N_("%(dossier)s page %(page)s saved"),
    "dossier_scanned": N_("%(dossier)s: %(pages)s pages scanned"),
    "page_file_damaged:page": N_(
        "Gateway %(gateway)s: a file of %(dossier)s page %(page)s is damaged on its disk and cannot be sent; "
        "retake the page"
    ),
    "page_file_damaged:manifest": N_(
        "Gateway %(gateway)s: the manifest of %(dossier)s is damaged on its disk and cannot be sent"
    ),
    "page_not_kept": N_(
        "Copy stand %(device)s: page %(page)s of %(dossier)s was not kept, its files could not be written; "
        "check the gateway's SD card"
    ),
    # loans (gateway/loans.py)
    "dossier_checked_out": N_("%(code)s checked out to %(borrower)s at %(reader)s (loan %(loan)s)"),
    "dossier_returned": N_("%(code)s returned at %(reader)s (loan %(loan)s)"),
    "checkout_refused": N_("%(code)s was not checked out at %(reader)s: it has no approved loan"),
    "unauthorised_removal": N_("%(code)s at door reader %(reader)s without a checkout: possible unauthorised removal"),
    "loan_overdue": N_("%(code)s is overdue (loan %(loan)s, %(borrower)s)"),
    # doors (gateway/doors.py)
    "door:open": N_("%(device)s opened"),
    "door:closed": N_("%(device)s closed"),
    "strike:locked": N_("%(device)s locked"),
    "strike:unlocked": N_("%(device)s unlocked"),
    "access:granted": N_("%(device)s: %(holder)s let in or out"),
    "access:refused": N_("%(device)s: a badge was refused"),
    "door_forced": N_("%(device)s forced open (opened while locked, without a grant)"),
    "door_held_open": N_("%(device)s has been held open too long"),
    "door_tamper": N_("%(device)s: the reader's tamper loop is open"),
    "strike_fault": N_("%(device)s: the lock does not follow its relay"),
    "emergency_release": N_("%(device)s released by the emergency input (fire alarm)"),
    "permissions:applied": N_("Permission document %(version)s in force"),
    "permissions:refused": N_("Permission document %(version)s refused"),
    # the dashboard's own checks (dashboard/alerts.py)
    "gateway_offline": N_("Gateway %(gateway)s is offline: its rooms are not watched from here"),
    "seq_gap": N_("Messages from %(gateway)s are missing (gaps in seq)"),
}
"""Sentence per kind (or `kind:variant`), its placeholders filled from the event's fields and data."""

VARIANTS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "relay": lambda data: "on" if data.get("on") else "off",
    "tag_read": lambda data: "valid" if data.get("valid") is True else "invalid",
    "stand_session": lambda data: "closed" if data.get("state") == "closed" else "open",
    "door": lambda data: "open" if data.get("open") else "closed",
    "strike": lambda data: "locked" if data.get("locked") else "unlocked",
    "access": lambda data: "granted" if data.get("granted") is True else "refused",
    "permissions": lambda data: "applied" if data.get("applied") is True else "refused",
    "page_file_damaged": lambda data: "manifest" if data.get("page") is None else "page",
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

CLEARED = N_("Over: %(what)s")
GATEWAY_WORDS = N_("in the gateway's own words")

SEVERITIES = {"info": N_("info"), "warning": N_("warning"), "alarm": N_("alarm")}


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
    translate: Callable[[str], str] = gettext,
) -> str | None:
    """The event in the current request's language (or `translate`'s), or None when the table cannot word it."""
    data = data or {}
    template = TEXTS.get(key_of(kind, data))
    if template is None:
        return None
    unit = UNITS.get(kind, "")
    fields = {key: _number(value, unit) for key, value in data.items() if key in ("value", "limit")}
    fields |= {key: value for key, value in data.items() if key not in fields}
    fields |= {key: value for key, value in (("room", room), ("device", device), ("gateway", gateway)) if value}
    try:
        text = translate(template) % fields
    except (KeyError, TypeError, ValueError):
        return None  # an event without the fields its sentence needs: the gateway's words will do
    return translate(CLEARED) % {"what": text} if data.get("cleared") is True else text


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
    return Markup('<q class="gateway-words" lang="en" title="{}">{}</q>').format(gettext(GATEWAY_WORDS), words)


def severity_text(severity: str, translate: Callable[[str], str] = gettext) -> str:
    return translate(SEVERITIES[severity]) if severity in SEVERITIES else severity


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(alert_text=alert_text, severity=severity_text)
