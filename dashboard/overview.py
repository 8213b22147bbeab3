"""The overview page: one card per room with its climate and devices, the gateways, the ingest counters.

The page is complete as served (it works without JavaScript); static/overview.js then keeps it live
by polling the JSON API, which returns the very dicts this page was rendered from.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from dashboard import alerts
from dashboard.access import allowed
from dashboard.connection import store
from gateway.protocol import utc_now

bp = Blueprint("overview", __name__)


@bp.get("/")
def overview() -> str:
    opened = store()
    now = utc_now()
    return render_template(
        "overview.html",
        site=current_app.config["SITE"],
        rooms=alerts.by_trouble(opened.rooms(now), alerts.active(opened.db.conn)),
        gateways=opened.gateways(now),
        # Refused payloads may carry anything: only roles allowed the ingest API see them.
        stats=opened.ingest_stats() if allowed("api.ingest") else None,
        rejects=opened.recent_rejects() if allowed("api.ingest") else None,
    )
