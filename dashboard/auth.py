"""Logging in and out. The login page is a plain form: a user name, a password, a CSRF token.

Every attempt is audited, successful or not. After too many failures for one name the form refuses
that name for a while, whatever the password (users.MAX_FAILURES, users.THROTTLE_WINDOW).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from dashboard.access import audit, current, remote
from dashboard.audit import record
from dashboard.connection import people
from dashboard.users import THROTTLE_WINDOW, UserError, Users

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL someone slipped into the link."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("overview.overview")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""), error=None)
    name = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    users = Users(people())
    if users.throttled(name):
        record(people(), actor=name or "?", action="login_throttled", remote=remote())
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        error = _("Too many failed attempts; try again in %(minutes)s minutes.", minutes=minutes)
        return render_template("login.html", next=target, error=error), 429
    user = users.authenticate(name, password, remote())
    if user is None:
        record(people(), actor=name or "?", action="login_failed", remote=remote())
        error = _("Wrong user name or password.")
        return render_template("login.html", next=target, error=error), 401
    session.clear()  # a fresh session: nothing from before the login carries over
    session["uid"] = user.id
    session["seen"] = time.time()
    record(people(), actor=user.name, action="login", remote=remote(), detail={"role": user.role})
    return redirect(_safe_next(target))


@bp.post("/logout")
def logout() -> Response:
    audit("logout")
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Response:
    """A user's own language for the pages, kept with the user."""
    visitor = current()
    assert visitor is not None  # the access guard lets only logged-in users here
    choice = request.form.get("language", "")
    try:
        Users(people()).set_language(visitor.user.id, choice)
    except UserError:
        abort(400, description=f"unknown language {choice!r}")
    return redirect(_safe_next(request.form.get("next")))
