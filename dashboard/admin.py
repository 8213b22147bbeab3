"""User management for administrators: list, add, change role, reset password, disable. All audited.

Disabling or enabling a user who is also a staff badge holder (same name, dashboard/permissions.py) publishes
a new permission document at once, so the doors refuse (or admit again) their badges as soon as it reaches
the gateways, without a second step on the permissions page.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import permissions
from dashboard.access import audit, current
from dashboard.connection import people
from dashboard.door_views import publish_now
from dashboard.users import ROLES, UserError, Users

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
def users() -> str:
    return render_template("users.html", users=Users(people()).all(), roles=ROLES)


@bp.post("/users")
def add_user() -> Response:
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    try:
        Users(people()).add(name, role, request.form.get("password", ""))
    except UserError as exc:
        flash(str(exc), "error")
    else:
        audit("user_added", name, role=role)
        flash(_("User %(name)s added.", name=name), "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>")
def change_user(name: str) -> Response:
    users = Users(people())
    action = request.form.get("action", "")
    try:
        if action == "disable":
            if current() and current().user.name == name:
                raise UserError("you cannot disable yourself")
            users.set_disabled(name, True)
        elif action == "enable":
            users.set_disabled(name, False)
        elif action == "password":
            users.set_password(name, request.form.get("password", ""))
        else:
            raise UserError(f"unknown action {action!r}")
    except UserError as exc:
        flash(str(exc), "error")
    else:
        audit(f"user_{action}", name)
        flash(_("%(name)s: done.", name=name), "ok")
        if action in ("disable", "enable") and permissions.is_holder(people(), name):
            publish_now(cause=f"user_{action}:{name}")
    return redirect(url_for("admin.users"))
