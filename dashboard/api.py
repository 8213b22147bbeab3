"""The JSON API: what the overview page shows, for the page's live updates and for other programs.

    GET /api/rooms      every room: latest temperature and humidity, age, stale flag, relays, doors
    GET /api/gateways   every gateway: online/offline since when, last seq, counters, gaps in seq
    GET /api/alerts     active alerts (worst first) and the latest 100 of the history
    GET /api/commands   commands sent to gateways: pending, applied or refused, with the gateway's answer
    GET /api/ingest     messages accepted, repeated, ignored, refused per reason; recent refusals

Each answer carries `now`, the server's time the ages were measured at. Example:

    curl -s http://127.0.0.1:8080/api/rooms
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from dashboard import alerts
from dashboard import commands as command_log
from dashboard.connection import store
from dashboard.schema import iso
from gateway.protocol import utc_now

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/rooms")
def rooms() -> Response:
    now = utc_now()
    opened = store()
    rooms_now = alerts.by_trouble(opened.rooms(now), alerts.active(opened.db.conn))
    return jsonify(now=iso(now), stale_after_s=current_app.config["STALE_AFTER_S"], rooms=rooms_now)


@bp.get("/gateways")
def gateways() -> Response:
    now = utc_now()
    return jsonify(now=iso(now), gateways=store().gateways(now))


@bp.get("/alerts")
def alerts_now() -> Response:
    conn = store().db.conn
    return jsonify(now=iso(utc_now()), active=alerts.active(conn), history=alerts.history(conn, limit=100))


@bp.get("/commands")
def commands() -> Response:
    return jsonify(now=iso(utc_now()), commands=command_log.recent(store().db.conn, limit=50))


@bp.get("/ingest")
def ingest() -> Response:
    opened = store()
    return jsonify(now=iso(utc_now()), **opened.ingest_stats(), recent_rejects=opened.recent_rejects())
