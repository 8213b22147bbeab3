"""A room's page: its climate, devices and target band; facilities and admins change the band from here.

The band is not changed in the dashboard: it is sent to the room's gateway as `cmd/set_band`, which
applies it, keeps it, and answers; the page shows the command pending, applied or refused.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import commands
from dashboard.access import audit, current
from dashboard.connection import people, store
from gateway.protocol import check_band, utc_now

bp = Blueprint("rooms", __name__, url_prefix="/rooms")


def _room(room_id: str) -> dict:
    found = [r for r in store().rooms(utc_now()) if r["id"] == room_id]
    if not found:
        abort(404)
    return found[0]


@bp.get("/<room_id>")
def room(room_id: str) -> str:
    shown = _room(room_id)
    config = next((r for r in current_app.config["SITE"].rooms if r.id == room_id), None)
    sent = [c for c in commands.recent(store().db.conn, 50) if c["args"].get("room") == room_id]
    return render_template("room.html", room=shown, config=config, commands=sent[:10])


@bp.post("/<room_id>/band")
def set_band(room_id: str) -> Response:
    shown = _room(room_id)
    site = current_app.config["SITE"]
    config = next((r for r in site.rooms if r.id == room_id), None)
    try:
        low, high = float(request.form.get("low", "")), float(request.form.get("high", ""))
        check_band(low, high, config.climate.hysteresis_rh if config else 3.0)
        command_id = commands.send(
            people(),
            current_app.config["PUBLISH"],
            site=site.site.id,
            gateway=shown["gateway"],
            name="set_band",
            args={"room": room_id, "low": low, "high": high},
            by=current().user.name,
        )
    except ValueError as exc:
        flash(_("Not sent: %(reason)s", reason=exc), "error")
    except commands.CommandError as exc:
        flash(_("Not sent: %(reason)s", reason=exc), "error")
    else:
        audit("command_sent", f"room/{room_id}", command="set_band", id=command_id, low=low, high=high)
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
