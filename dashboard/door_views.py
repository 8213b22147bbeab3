"""Doors: each badge door's state, the access log with reasons, a remote unlock that needs a reason; the
entry register (and its CSV); permission management for admins, which publishes the signed document.

Door alarms (`door_forced`, `door_held_open`, ...) are alerts like any other (dashboard/alerts.py).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.datastructures import MultiDict

from dashboard import alerts, commands, entries, permissions
from dashboard.access import audit, current
from dashboard.connection import people, store
from gateway import protocol
from gateway.protocol import utc_now

bp = Blueprint("doors", __name__, url_prefix="/doors")
REGISTER_COLUMNS = ("room", "door", "person", "entered", "with", "left", "left_by")
OFFICE_HOURS = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]
DOOR_ALARMS = ("door_forced", "door_held_open", "door_tamper", "strike_fault", "emergency_release")

DAYS = [
    lazy_gettext("Mon"), lazy_gettext("Tue"), lazy_gettext("Wed"), lazy_gettext("Thu"), lazy_gettext("Fri"),
    lazy_gettext("Sat"), lazy_gettext("Sun"),
]  # fmt: skip
"""Weekdays as the permission document numbers them: 0 Monday ... 6 Sunday."""
WINDOW_ROWS = 3
"""Empty rows of weekly hours the holder form offers (more when a holder already has more)."""
MAX_WINDOWS = 14
"""As many as a grant may carry (gateway/protocol.py RoomGrant)."""
CLOCK = re.compile(protocol.CLOCK_TIME_PATTERN)

REASONS = {
    "granted": lazy_gettext("granted"),
    "exit": lazy_gettext("left by badge"),
    "exit_button": lazy_gettext("exit button"),
    "remote_unlock": lazy_gettext("unlocked from the dashboard"),
    "unknown_badge": lazy_gettext("unknown badge"),
    "forged_tag": lazy_gettext("forged tag"),
    "unreadable": lazy_gettext("unreadable badge"),
    "not_a_badge": lazy_gettext("not a badge"),
    "lost_badge": lazy_gettext("badge reported lost"),
    "user_disabled": lazy_gettext("holder disabled"),
    "no_permission": lazy_gettext("no permission for this room"),
    "not_yet_valid": lazy_gettext("permission not yet valid"),
    "expired": lazy_gettext("permission expired"),
    "outside_hours": lazy_gettext("outside hours"),
    "waiting_second_person": lazy_gettext("waiting for a second person"),
    "visitor_needs_staff": lazy_gettext("visitor needs a staff badge"),
    "anti_passback": lazy_gettext("anti-passback"),
    "no_permissions": lazy_gettext("no permission document on the gateway"),
}


LOCK = {True: lazy_gettext("locked"), False: lazy_gettext("unlocked")}
FAIL_MODES = {
    "fail-secure": lazy_gettext("fail-secure: stays locked without power"),
    "fail-safe": lazy_gettext("fail-safe: opens without power"),
}


def _badge_doors() -> list[dict]:
    """Every door with a strike, with what its gateway last said (open, locked) and its fail mode (config)."""
    site = current_app.config["SITE"]
    shown = {r["id"]: r for r in store().rooms(utc_now())}
    doors = []
    for room in site.rooms:
        for door in room.doors:
            if door.access is None:
                continue
            state = next((d for d in shown.get(room.id, {}).get("doors", []) if d["id"] == door.id), {})
            doors.append(
                {"room": room.id, "room_name": room.name, "gateway": room.gateway, "id": door.id}
                | {"fail_mode": door.access.strike.fail_mode}
                | state
            )
    return doors


@bp.get("/")
def page() -> str:
    opened = store()
    door_alerts = [a for a in alerts.history(opened.db.conn, limit=200) if a["kind"] in DOOR_ALARMS and a["active"]]
    return render_template(
        "doors.html",
        doors=_badge_doors(),
        log=entries.access_log(opened.db, limit=100),
        door_alerts=door_alerts,
        reasons=REASONS,
        lock=LOCK,
        fail_modes=FAIL_MODES,
    )


@bp.post("/<room_id>/unlock")
def unlock(room_id: str) -> Response:
    """One strike pulse, sent to the room's gateway; refused without a reason; audited with it."""
    door = next((d for d in _badge_doors() if d["room"] == room_id), None)
    reason = request.form.get("reason", "").strip()
    try:
        if door is None:
            raise ValueError(_("this room has no badge door"))
        if not reason:
            raise ValueError(_("a remote unlock needs a reason"))
        site = current_app.config["SITE"]
        args = {"room": room_id, "reason": reason[:200]}
        command_id = commands.send(
            people(), current_app.config["PUBLISH"], site=site.site.id, gateway=door["gateway"], name="unlock",
            args=args, by=current().user.name,
        )  # fmt: skip
        audit("door_unlock", f"room/{room_id}", id=command_id, reason=reason[:200])
    except (ValueError, commands.CommandError) as exc:
        audit("door_unlock_refused", f"room/{room_id}", reason=reason[:200], why=str(exc))
        flash(_("Not sent: %(reason)s", reason=exc), "error")
    else:
        flash(_("Unlock sent to the gateway; the door opens for one pulse."), "ok")
    return redirect(url_for("doors.page"))


def _register() -> list[dict]:
    return entries.register(store().db, since=request.args.get("since") or None)


@bp.get("/register")
def register() -> str:
    return render_template("door_register.html", rows=_register())


@bp.get("/register.csv")
def register_csv() -> Response:
    rows = _register()
    audit("entry_register_export", "doors/register", rows=len(rows))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_COLUMNS)
    for row in rows:
        writer.writerow([",".join(row[c]) if c == "with" else row[c] or "" for c in REGISTER_COLUMNS])
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=entry-register.csv"},
    )


# -- permissions (admins) ---------------------------------------------------------------------------


def _door_rooms() -> list:
    return [r for r in current_app.config["SITE"].rooms if r.badge_door]


def _rule(grant: protocol.RoomGrant) -> tuple:
    """What a room's grant says apart from the room: two rooms with the same rule are edited together."""
    return (tuple(w.model_dump_json() for w in grant.windows), grant.valid_from, grant.valid_until)


def _form_of(holder: protocol.Holder | None, room: str | None = None) -> dict:
    """The holder form filled with what `holder` has now, so changing one thing keeps the rest.

    Hours and dates are per room in the document; the form shows one rule at a time: that of `room` (a room
    the holder has, or one to add), else of their first room. The rooms with that same rule are ticked; their
    other rooms are listed with their own hours and kept as they are by the save (`_grants`).
    """
    if holder is None:
        return {"hours": "office", "rows": [], "rooms": {room} if room else set(), "kind": "staff", "held": []}
    shown = next((g for g in holder.grants if g.room == room), None) or (
        None if room else (holder.grants[0] if holder.grants else None)
    )
    windows = [w.model_dump() for w in shown.windows] if shown else OFFICE_HOURS
    hours = "any" if shown and not windows else "office" if windows == OFFICE_HOURS else "weekly"
    ticked = {g.room for g in holder.grants if shown and _rule(g) == _rule(shown)} | ({room} if room else set())
    return {
        "id": holder.id,
        "name": holder.name,
        "kind": holder.kind,
        "disabled": holder.disabled,
        "badges": ", ".join(b.number for b in holder.badges),
        "lost": ", ".join(b.number for b in holder.badges if b.lost),
        "rooms": ticked,
        "held": holder.grants,
        "hours": hours,
        "rows": windows if hours == "weekly" else [],
        "valid_from": shown.valid_from.isoformat() if shown and shown.valid_from else "",
        "valid_until": shown.valid_until.isoformat() if shown and shown.valid_until else "",
    }


def _grants(form: MultiDict[str, str], rule: dict, existing: protocol.Holder | None) -> list[dict]:
    """The holder's grants after a save, in room order: the ticked rooms get the form's rule; their other rooms
    keep their own; a room ticked under "take away" is gone, whatever else was ticked."""
    gone = set(form.getlist("remove"))
    ticked = [room for room in form.getlist("rooms") if room not in gone]
    kept = [
        g.model_dump(mode="json")
        for g in (existing.grants if existing else [])
        if g.room not in ticked and g.room not in gone
    ]
    return sorted([{"room": room, **rule} for room in ticked] + kept, key=lambda g: g["room"])


@bp.get("/permissions")
def permissions_page() -> str:
    conn = people()
    listed = permissions.holders(conn)
    editing = request.args.get("edit")
    holder = next((h for h in listed if h.id == editing), None)
    if editing and holder is None:
        flash(_("No badge holder %(id)s.", id=editing[:64]), "error")
    room = request.args.get("room")
    form = _form_of(holder, room if room in {r.id for r in _door_rooms()} else None)
    return render_template(
        "door_permissions.html",
        form=form,
        holders=listed,
        disabled_users=permissions.disabled_users(conn),
        rules=permissions.rooms(conn),
        rooms=_door_rooms(),
        days=DAYS,
        window_rows=min(MAX_WINDOWS, max(WINDOW_ROWS, len(form["rows"]) + 1)),
        window_text=window_text,
        latest=permissions.latest(conn),
        running=permissions.gateway_versions(store().db.conn),
    )


@bp.post("/permissions/holder")
def save_holder() -> Response:
    form = request.form
    numbers = [n.strip() for n in form.get("badges", "").split(",") if n.strip()]
    lost = {n.strip() for n in form.get("lost", "").split(",") if n.strip()}
    try:
        windows = _windows(form)
    except ValueError as exc:
        flash(_("Not saved: %(reason)s", reason=exc), "error")
        return redirect(url_for("doors.permissions_page"))
    holder_id = form.get("id", "").strip()
    grant = {
        "windows": windows,
        "valid_from": form.get("valid_from") or None,
        "valid_until": form.get("valid_until") or None,
    }
    raw = {
        "id": holder_id,
        "name": form.get("name", "").strip(),
        "kind": form.get("kind", "staff"),
        "disabled": form.get("disabled") == "on",
        "badges": [{"number": n, "lost": n in lost} for n in numbers],
        "grants": _grants(form, grant, permissions.holder(people(), holder_id)),
    }
    try:
        for key in ("valid_from", "valid_until"):
            if grant[key]:
                date.fromisoformat(grant[key])
        holder = permissions.holder_from(raw)
        permissions.save_holder(people(), holder, current().user.name)
    except (ValueError, permissions.HolderError) as exc:
        flash(_("Not saved: %(reason)s", reason=exc), "error")
    else:
        audit("access_holder_saved", f"holder/{holder.id}", kind=holder.kind, disabled=holder.disabled,
              badges=",".join(numbers), lost=",".join(sorted(lost)),
              rooms=",".join(g.room for g in holder.grants))  # fmt: skip
        flash(_("Saved. Publish to send it to the doors."), "ok")
    return redirect(url_for("doors.permissions_page"))


def _windows(form: MultiDict[str, str]) -> list[dict]:
    """The weekly hours the form asks for: none (any time), office hours, or the admin's own rows of days and
    from/to, each checked here so the error names the row; ValueError in the reader's language."""
    hours = form.get("hours", "office")
    if hours == "any":
        return []
    if hours != "weekly":
        return OFFICE_HOURS
    windows = []
    for row in range(MAX_WINDOWS):
        days = sorted({int(d) for d in form.getlist(f"w{row}_days") if d in "0123456" and len(d) == 1})
        start, end = form.get(f"w{row}_start", "").strip(), form.get(f"w{row}_end", "").strip()
        if not days and not start and not end:
            continue
        n = row + 1
        if not days:
            raise ValueError(_("weekly hours, row %(n)s: choose at least one day", n=n))
        for value in (start, end):
            if not CLOCK.fullmatch(value):
                raise ValueError(_("weekly hours, row %(n)s: “%(value)s” is not a time from 00:00 to 24:00", n=n,
                                   value=value))  # fmt: skip
        if end <= start:
            raise ValueError(_("weekly hours, row %(n)s: %(end)s is not after %(start)s", n=n, start=start, end=end))
        windows.append({"days": days, "start": start, "end": end})
    if not windows:
        raise ValueError(_("weekly hours: none given (choose “any time” for no limit)"))
    return windows


def window_text(window: protocol.TimeWindow) -> str:
    """A weekly window in the reader's language: its days, from and to."""
    return f"{'/'.join(str(DAYS[d]) for d in window.days)} {window.start}–{window.end}"


@bp.post("/permissions/room")
def save_room() -> Response:
    room = request.form.get("room", "")
    try:
        if room not in {r.id for r in _door_rooms()}:
            raise ValueError(_("this room has no badge door"))
        rule = protocol.RoomRule(
            two_person=request.form.get("two_person") == "on",
            window_s=float(request.form.get("window_s", "30")),
            anti_passback=request.form.get("anti_passback") == "on",
        )
        permissions.save_room(people(), room, rule)
    except ValueError as exc:
        flash(_("Not saved: %(reason)s", reason=str(exc).splitlines()[0]), "error")
    else:
        audit("access_room_saved", f"room/{room}", two_person=rule.two_person, window_s=rule.window_s,
              anti_passback=rule.anti_passback)  # fmt: skip
        flash(_("Saved. Publish to send it to the doors."), "ok")
    return redirect(url_for("doors.permissions_page"))


@bp.post("/permissions/publish")
def publish() -> Response:
    publish_now()
    return redirect(url_for("doors.permissions_page"))


def publish_now(cause: str = "") -> bool:
    """Issue the next version from what the database holds now and send it to the gateways; audited (with the
    `cause` when something other than the publish button asked: a user disabled or enabled) and flashed.
    False if it could not reach every gateway (or the broker at all: then no version is issued)."""
    site = current_app.config["SITE"]
    publisher = current_app.config["PUBLISH"]
    if publisher is None:
        flash(_("Not sent: %(reason)s", reason=_("the dashboard is not connected to the broker")), "error")
        return False
    document = permissions.issue(people(), site, current().user.name)
    failed = permissions.publish(document, site, publisher)
    audit("access_published", "doors/permissions", version=document.version, holders=len(document.holders),
          unreached=",".join(failed), **({"cause": cause} if cause else {}))  # fmt: skip
    if failed:
        flash(
            _("Version %(v)s kept, but not sent to: %(gateways)s", v=document.version, gateways=", ".join(failed)),
            "error",
        )
        return False
    flash(_("Version %(v)s sent to the gateways.", v=document.version), "ok")
    return True
