"""A room's target band, changed on the dashboard, applied and kept by the gateway, answered back.

Real parts throughout: Mosquitto, `storeroom gateway run` on the simulated world, the dashboard's ingest
and web app on one database, a facilities user logged in through the form.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from dashboard import commands
from dashboard.app import create_app
from dashboard.ingest import Ingest
from dashboard.users import connect
from tests.support import GatewayProcess, add_user, csrf_token, login, wait_until, write_site

pytestmark = pytest.mark.slow


@pytest.fixture
def config_path(tmp_path):
    return write_site(tmp_path, speed=50.0, interval_s=2.5)


@pytest.fixture
def site(config_path):
    from hardware.broker import ensure_passwords
    from hardware.config import load

    site = load(config_path)
    ensure_passwords(site)
    return site


@pytest.fixture
def ingest(site, broker):
    running = Ingest(site, site.dashboard_database, broker.host, broker.port, "dashboard", broker.password("dashboard"))
    running.start()
    assert running.wait_ready(10)
    yield running
    running.stop()


@pytest.fixture
def facilities(site, ingest):
    app = create_app(site, publish=ingest.publish)
    add_user(site.dashboard_database, "fatima", "facilities")
    client = app.test_client()
    login(client, "fatima")
    return client


def command_states(site) -> list[tuple[str, str]]:
    with sqlite3.connect(site.dashboard_database) as db:
        return db.execute("SELECT state, detail FROM commands ORDER BY sent").fetchall()


def band_shown(client, room: str) -> list | None:
    return next(r for r in client.get("/api/rooms").json["rooms"] if r["id"] == room)["humidity_band"]


def test_a_band_set_on_the_room_page_is_applied_kept_and_shown(site, config_path, broker, facilities):
    with GatewayProcess(config_path, "gw-east", broker.port) as gateway:
        wait_until(lambda: band_shown(facilities, "east-stack") == [45.0, 60.0], what="the configured band")
        page = facilities.get("/rooms/east-stack").get_data(as_text=True)
        answer = facilities.post(
            "/rooms/east-stack/band", data={"csrf_token": csrf_token(page), "low": "48", "high": "55"}
        )
        assert answer.status_code == 302
        wait_until(lambda: command_states(site) and command_states(site)[0][0] == "applied", what="the ack")
        assert band_shown(facilities, "east-stack") == [48.0, 55.0]
        assert "已执行" in facilities.get("/rooms/east-stack").get_data(as_text=True)
        assert gateway.stop() == 0

    saved = json.loads(site.outbox_path("gw-east").with_name("settings.json").read_text())
    assert saved["humidity_bands"]["east-stack"] == [48.0, 55.0]
    with GatewayProcess(config_path, "gw-east", broker.port):
        # After a restart the gateway keeps the band it was given, and says so in its birth.
        with sqlite3.connect(site.dashboard_database) as db:
            db.execute("UPDATE rooms SET humidity_low = NULL, humidity_high = NULL")
        wait_until(lambda: band_shown(facilities, "east-stack") == [48.0, 55.0], what="the kept band")


def test_a_gateway_refuses_what_it_cannot_apply_and_says_why(site, config_path, broker, ingest):
    conn = connect(site.dashboard_database, migrate_schema=True)
    with GatewayProcess(config_path, "gw-east", broker.port):
        wait_until(lambda: ingest.connected, what="the ingest")
        wait_until(lambda: conn.execute("SELECT count(*) FROM messages").fetchone()[0] > 0, what="the gateway")
        commands.send(
            conn,
            ingest.publish,
            site="demo",
            gateway="gw-east",
            name="set_band",
            args={"room": "west-stack", "low": 40.0, "high": 50.0},
            by="test",
        )
        state, detail = wait_until(lambda: [s for s in command_states(site) if s[0] != "pending"], what="the refusal")[
            0
        ]
    assert state == "refused"
    assert "room 'west-stack' is not on this gateway" in detail


def test_a_band_narrower_than_the_hysteresis_is_not_even_sent(site, facilities):
    page = facilities.get("/rooms/east-stack").get_data(as_text=True)
    facilities.post("/rooms/east-stack/band", data={"csrf_token": csrf_token(page), "low": "50", "high": "52"})
    assert "narrower than the hysteresis" in facilities.get("/rooms/east-stack").get_data(as_text=True)
    assert command_states(site) == []


def relay_events(site) -> list[dict]:
    with sqlite3.connect(site.dashboard_database) as db:
        rows = db.execute("SELECT data FROM events WHERE kind = 'relay' ORDER BY seq").fetchall()
    return [json.loads(data) for (data,) in rows]


def test_an_override_from_the_room_page_runs_the_dehumidifier_and_is_audited(site, config_path, broker, facilities):
    with GatewayProcess(config_path, "gw-east", broker.port):
        wait_until(lambda: band_shown(facilities, "east-stack"), what="the gateway's birth")
        page = facilities.get("/rooms/east-stack").get_data(as_text=True)
        assert "手动控制" in page
        answer = facilities.post(
            "/rooms/east-stack/override", data={"csrf_token": csrf_token(page), "mode": "on", "minutes": "60"}
        )
        assert answer.status_code == 302
        wait_until(lambda: command_states(site) and command_states(site)[0][0] == "applied", what="the ack")
        assert "dehumidifiers on for 60 min" in command_states(site)[0][1]
        # The unit starts once its compressor has rested (5 min after the gateway started, simulated).
        started = wait_until(
            lambda: [e for e in relay_events(site) if e["on"] and e["reason"] == "override on"], what="the start"
        )
        assert started[0]["kind"] == "dehumidifier"
    with sqlite3.connect(site.dashboard_database) as db:
        (details,) = db.execute("SELECT detail FROM audit WHERE action = 'command_sent'").fetchone()
    assert json.loads(details)["command"] == "override" and json.loads(details)["mode"] == "on"


def test_an_override_with_a_made_up_duration_is_not_sent(site, facilities):
    page = facilities.get("/rooms/east-stack").get_data(as_text=True)
    facilities.post(
        "/rooms/east-stack/override", data={"csrf_token": csrf_token(page), "mode": "on", "minutes": "9999"}
    )
    assert "请选择所列的时长之一" in facilities.get("/rooms/east-stack").get_data(as_text=True)
    assert command_states(site) == []
