"""A room's page: its climate, sensors, dehumidifiers, alarms and preservation metrics; facilities and admins
change the target band and override the dehumidifiers from here.

Neither is changed in the dashboard: each is sent to the room's gateway as a command (`cmd/set_band`,
`cmd/override`), which applies it and answers; the page shows the command pending, applied or refused,
and the audit trail records who sent it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import alerts, climate, commands
from dashboard.access import audit, current
from dashboard.api import PERIODS
from dashboard.connection import people, store
from gateway.protocol import check_band, utc_now

bp = Blueprint("rooms", __name__, url_prefix="/rooms")


def _room(room_id: str) -> dict:
    found = [r for r in store().rooms(utc_now()) if r["id"] == room_id]
    if not found:
        abort(404)
    return found[0]


OVERRIDE_MINUTES = (30, 60, 120, 240, 480, 1440)


@bp.get("/<room_id>")
def room(room_id: str) -> str:
    shown = _room(room_id)
    site = current_app.config["SITE"]
    config = next((r for r in site.rooms if r.id == room_id), None)
    opened = store()
    sent = [c for c in commands.recent(opened.db.conn, 50) if c["args"].get("room") == room_id]
    now = utc_now()
    metrics = {
        period: climate.preservation(opened.db, site.site.id, room_id, since=now - span, until=now)
        for period, span in PERIODS.items()
    }
    run_time = {
        u["unit"]: u for u in climate.run_time(opened.db, site.site.id, room_id, since=now - PERIODS["24h"], until=now)
    }
    room_alerts = [a for a in alerts.history(opened.db.conn, limit=500) if a["room"] == room_id]
    outside = next((r for r in site.rooms if r.outdoor and r.id != room_id), None)
    return render_template(
        "room.html",
        room=shown,
        config=config,
        commands=sent[:10],
        metrics=metrics,
        run_time=run_time,
        active_alerts=[a for a in room_alerts if a["active"]],
        past_alerts=[a for a in room_alerts if not a["active"]][:10],
        override_minutes=OVERRIDE_MINUTES,
        outside=None if config and config.outdoor else outside,
    )


def _send(room_id: str, name: str, args: dict) -> str:
    """Record and send a command to the room's gateway, audited; its id."""
    shown = _room(room_id)
    site = current_app.config["SITE"]
    by = current().user.name
    command_id = commands.send(
        people(),
        current_app.config["PUBLISH"],
        site=site.site.id,
        gateway=shown["gateway"],
        name=name,
        args=args,
        by=by,
    )
    audit(
        "command_sent", f"room/{room_id}", command=name, id=command_id, **{k: v for k, v in args.items() if k != "room"}
    )
    return command_id


@bp.post("/<room_id>/override")
def override(room_id: str) -> Response:
    """Force the room's dehumidifiers on or off for a while, or hand them back to the hygrostat."""
    mode = request.form.get("mode", "")
    try:
        if mode not in ("on", "off", "auto"):
            raise ValueError(_("choose on, off or automatic"))
        minutes = int(request.form.get("minutes", "60"))
        if minutes not in OVERRIDE_MINUTES:
            raise ValueError(_("choose one of the offered durations"))
        _send(room_id, "override", {"room": room_id, "mode": mode, "minutes": minutes})
    except (ValueError, commands.CommandError) as exc:
        flash(_("Not sent: %(reason)s", reason=exc), "error")
    else:
        flash(_("Override sent to the gateway; waiting for it to apply."), "ok")
    return redirect(url_for("rooms.room", room_id=room_id))


@bp.post("/<room_id>/band")
def set_band(room_id: str) -> Response:
    shown = _room(room_id)
    config = next((r for r in current_app.config["SITE"].rooms if r.id == room_id), None)
    try:
        low, high = float(request.form.get("low", "")), float(request.form.get("high", ""))
        check_band(low, high, config.climate.hysteresis_rh if config else 3.0)
        _send(room_id, "set_band", {"room": room_id, "low": low, "high": high})
    except (ValueError, commands.CommandError) as exc:
        flash(_("Not sent: %(reason)s", reason=exc), "error")
    else:
        flash(
            _(
                "Band %(low)s–%(high)s %% RH sent to %(gateway)s; waiting for it to apply.",
                low=low,
                high=high,
                gateway=shown["gateway"],
            ),
            "ok",
        )
    return redirect(url_for("rooms.room", room_id=room_id))
