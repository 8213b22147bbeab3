"""Alerts: gateways' alarms and the ingest's own checks become one list a person works through."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard import alerts
from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from tests.support import add_user, csrf_token, login

EAST = protocol.Topics("demo", "gw-east")
WEST = protocol.Topics("demo", "gw-west")


@pytest.fixture
def app(site):
    app = create_app(site)
    add_user(app.config["DATABASE"], "fatima", "facilities")
    add_user(app.config["DATABASE"], "kim", "keeper")
    return app


@pytest.fixture
def store(app):
    with Store(app.config["DATABASE"]) as opened:
        yield opened


def event(seq: int, kind: str, severity: str = "warning", **fields) -> bytes:
    body = protocol.Event(
        id=f"e{seq}", seq=seq, ts=protocol.utc_now(), kind=kind, severity=severity, room="east-stack", **fields
    )
    return body.to_json()


def active(app) -> list[dict]:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        return alerts.active(conn)


def history(app) -> list[dict]:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        return alerts.history(conn)


def test_a_failing_sensor_raises_one_alert_and_its_recovery_ends_it(app, store):
    store.ingest(EAST.event("device_error"), event(1, "device_error", device="dht-1", message="no response"))
    store.ingest(EAST.event("device_error"), event(2, "device_error", device="dht-1", message="no response"))
    (alert,) = active(app)
    assert (alert["kind"], alert["room"], alert["severity"], alert["message"]) == (
        "device_error",
        "east-stack",
        "warning",
        "no response",
    )
    store.ingest(EAST.event("device_recovered"), event(3, "device_recovered", "info", device="dht-1"))
    assert active(app) == []
    (kept,) = history(app)
    assert kept["ended"] is not None, "an alert that clears by itself stays in the history"


def test_a_gateway_going_offline_is_an_alarm_until_it_is_back(app, store):
    store.ingest(EAST.status, protocol.Status(state="online", session=1).to_json())
    store.ingest(EAST.status, protocol.Status(state="offline", session=1).to_json())
    (alert,) = active(app)
    assert (alert["kind"], alert["severity"], alert["gateway"]) == ("gateway_offline", "alarm", "gw-east")
    store.ingest(EAST.status, protocol.Status(state="online", session=2).to_json())
    assert active(app) == []


def test_missing_messages_are_an_alert_until_they_arrive(app, store):
    for seq in (1, 4):
        store.ingest(EAST.event("door"), event(seq, "door", "info", device="main-door", data={"open": True}))
    assert [a["kind"] for a in active(app)] == ["seq_gap"]
    for seq in (2, 3):
        store.ingest(EAST.event("door"), event(seq, "door", "info", device="main-door", data={"open": False}))
    assert active(app) == []


def test_facilities_acknowledge_an_alert_with_a_comment_and_it_is_audited(app, store):
    store.ingest(EAST.event("device_error"), event(1, "device_error", device="dht-1", message="no response"))
    client = app.test_client()
    login(client, "fatima")
    page = client.get("/alerts/").get_data(as_text=True)
    (alert,) = active(app)
    answer = client.post(
        f"/alerts/{alert['id']}/ack", data={"csrf_token": csrf_token(page), "comment": "<b>cable</b> reseated"}
    )
    assert answer.status_code == 302
    (acked,) = active(app)
    assert (acked["acked_by"], acked["comment"]) == ("fatima", "<b>cable</b> reseated")
    shown = client.get("/alerts/").get_data(as_text=True)
    assert "&lt;b&gt;cable&lt;/b&gt; reseated" in shown, "a comment is shown as text"
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        assert conn.execute("SELECT actor, action FROM audit WHERE action = 'alert_acknowledged'").fetchall() == [
            ("fatima", "alert_acknowledged")
        ]


def test_active_alerts_show_in_the_header_of_every_page(app, store):
    store.ingest(WEST.status, protocol.Status(state="online", session=1).to_json())
    store.ingest(WEST.status, protocol.Status(state="offline", session=1).to_json())
    client = app.test_client()
    login(client, "kim")
    for path in ("/", "/alerts/"):
        html = client.get(path).get_data(as_text=True)
        assert "告警: 1" in html
        assert "网关 gw-west 离线：其库房暂无法监控" in html


def test_the_overview_puts_rooms_in_trouble_first(app, store):
    store.ingest(WEST.status, protocol.Status(state="online", session=1).to_json())
    store.ingest(WEST.status, protocol.Status(state="offline", session=1).to_json())
    client = app.test_client()
    login(client, "kim")
    rooms = client.get("/api/rooms").json["rooms"]
    assert [r["id"] for r in rooms] == ["west-stack", "outside", "east-stack"]  # both behind the offline gateway
    assert client.get("/api/alerts").json["active"][0]["kind"] == "gateway_offline"


def test_times_are_shown_in_the_sites_time_zone(app, store):
    store.ingest(EAST.event("device_error"), event(1, "device_error", device="dht-1", message="no response"))
    (alert,) = active(app)
    client = app.test_client()
    login(client, "kim")
    html = client.get("/alerts/").get_data(as_text=True)
    started = datetime.fromisoformat(alert["started"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert started.strftime("%Y-%m-%d %H:%M:%S CST") in html  # stored in UTC, shown in Shanghai time
