"""Logging in and out. The login page is a plain form: a user name, a password, a CSRF token.

Every attempt is audited, successful or not. After too many failures for one name the form refuses
that name for a while, whatever the password (users.MAX_FAILURES, users.THROTTLE_WINDOW).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from dashboard.access import audit, remote
from dashboard.audit import record
from dashboard.connection import people
from dashboard.users import THROTTLE_WINDOW, Users

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
        error = f"Too many failed attempts; try again in {minutes} minutes. 尝试次数过多，请稍后再试。"
        return render_template("login.html", next=target, error=error), 429
    user = users.authenticate(name, password, remote())
    if user is None:
        record(people(), actor=name or "?", action="login_failed", remote=remote())
        error = "Wrong user name or password. 用户名或密码错误。"
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
