"""The JSON API: what the overview page shows, for the page's live updates and for other programs.

    GET /api/rooms      every room: latest temperature and humidity, age, stale flag, relays, doors
    GET /api/gateways   every gateway: online/offline since when, last seq, counters, gaps in seq
    GET /api/rooms/<room>/history?period=24h|7d|30d   temperature and humidity averaged into 360 points
    GET /api/rooms/<room>/climate?period=24h|7d|30d   preservation metrics (TWPI, EMC, dew point, mould risk)
                                                      and each dehumidifier's run time over the period
    GET /api/scans      the latest 200 tags laid on readers, newest first, invalid ones with their reason
    GET /api/alerts     active alerts (worst first) and the latest 100 of the history
    GET /api/commands   commands sent to gateways: pending, applied or refused, with the gateway's answer
    GET /api/ingest     messages accepted, repeated, ignored, refused per reason; recent refusals

Each answer carries `now`, the server's time the ages were measured at. Example:

    curl -s http://127.0.0.1:8080/api/rooms
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, jsonify, request

from dashboard import alerts, climate, readout, scans
from dashboard import commands as command_log
from dashboard.connection import store
from dashboard.schema import iso
from gateway.protocol import utc_now

bp = Blueprint("api", __name__, url_prefix="/api")
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
HISTORY_POINTS = 360
"""Points per chart: averages over equal slices of the period, enough for a screen, light for a phone."""


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


@bp.get("/rooms/<room_id>/history")
def history(room_id: str) -> Response:
    period = _period()
    now = utc_now()
    span = PERIODS[period]
    site = current_app.config["SITE"].site.id
    points = readout.history(store().db, site, room_id, since=now - span, until=now, buckets=HISTORY_POINTS)
    return jsonify(now=iso(now), room=room_id, period=period, points=points)


@bp.get("/rooms/<room_id>/climate")
def climate_of(room_id: str) -> Response:
    period = _period()
    now = utc_now()
    since, db = now - PERIODS[period], store().db
    site = current_app.config["SITE"].site.id
    return jsonify(
        now=iso(now),
        room=room_id,
        period=period,
        metrics=climate.preservation(db, site, room_id, since=since, until=now),
        dehumidifiers=climate.run_time(db, site, room_id, since=since, until=now),
    )


def _period() -> str:
    period = request.args.get("period", "24h")
    if period not in PERIODS:
        abort(400, description=f"period must be one of {', '.join(PERIODS)}")
    return period


@bp.get("/scans")
def scans_now() -> Response:
    return jsonify(now=iso(utc_now()), scans=scans.recent(store().db))


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
