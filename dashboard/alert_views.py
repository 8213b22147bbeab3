"""The alerts page: what is wrong now, what was, and acknowledging an alert with a comment (audited)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import alerts
from dashboard.access import audit, current
from dashboard.connection import people, store
from dashboard.schema import iso
from gateway.protocol import utc_now

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.get("/")
def page() -> str:
    conn = store().db.conn
    return render_template("alerts.html", active=alerts.active(conn), history=alerts.history(conn))


@bp.post("/<int:alert_id>/ack")
def acknowledge(alert_id: int) -> Response:
    comment = request.form.get("comment", "").strip()
    visitor = current()
    assert visitor is not None  # the access guard let only logged-in roles through
    if not alerts.acknowledge(people(), alert_id, by=visitor.user.name, at=iso(utc_now()), comment=comment):
        abort(404)
    audit("alert_acknowledged", f"alert/{alert_id}", comment=comment)
    flash(_("Alert %(id)s acknowledged.", id=alert_id), "ok")
    return redirect(url_for("alerts.page"))


def active_alerts() -> list[dict]:
    """For the header of every page (a context processor): the active alerts, worst first."""
    if current() is None:
        return []
    return alerts.active(store().db.conn)
