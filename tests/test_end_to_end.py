"""From the simulated room to the dashboard's database, through a real Mosquitto: nothing lost, nothing twice.

Each test runs `storeroom gateway run` as a process on the simulated world (accelerated: 100 simulated
seconds per second, a reading every 2 simulated seconds), a Mosquitto the test starts with the site's
accounts and ACL, and the dashboard's ingest writing a real SQLite file.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dashboard.ingest import Ingest
from gateway import protocol
from hardware.broker import Broker, ensure_passwords
from hardware.config import load
from tests.support import GatewayProcess, wait_until, write_site

pytestmark = pytest.mark.slow


@pytest.fixture
def config_path(tmp_path):
    return write_site(tmp_path, speed=100.0, interval_s=2.5, door_openings_per_hour=20.0)


@pytest.fixture
def site(config_path):
    site = load(config_path)
    ensure_passwords(site)
    return site


@pytest.fixture
def broker(site):
    with Broker(site, port=0) as running:
        running.start()
        yield running


@pytest.fixture
def ingest(site, broker):
    running = Ingest(
        site,
        site.dashboard_database,
        host=broker.host,
        port=broker.port,
        username="dashboard",
        password=broker.password("dashboard"),
    )
    running.start()
    assert running.wait_ready(10), "the ingest subscribed"
    yield running
    running.stop()


@pytest.fixture
def east(config_path, broker):
    with GatewayProcess(config_path, "gw-east", broker.port) as gateway:
        yield gateway


def stored(site, sql: str, *params) -> list[tuple]:
    """Rows from the dashboard database, read as the pages read it."""
    with sqlite3.connect(f"file:{site.dashboard_database}?mode=ro", uri=True, timeout=5) as db:
        return db.execute(sql, params).fetchall()


def seqs(site, gateway: str) -> list[int]:
    return [row[0] for row in stored(site, "SELECT seq FROM messages WHERE gateway = ? ORDER BY seq", gateway)]


def test_readings_reach_the_dashboard_with_their_fields_and_rising_seq(site, ingest, east):
    wait_until(lambda: len(seqs(site, "gw-east")) >= 20, what="20 messages from gw-east")
    readings = stored(
        site,
        "SELECT seq, room, sensor, state, temperature_c, humidity_rh, ts FROM readings"
        " WHERE gateway = 'gw-east' ORDER BY received, seq",
    )
    assert len(readings) >= 10
    order = [r[0] for r in readings]
    assert order == sorted(order), "readings arrive in seq order"
    for _seq, room, sensor, state, temperature, humidity, ts in readings:
        assert (room, sensor) == ("east-stack", "dht-1")
        if state == "ok":
            assert 10 < temperature < 40
            assert 20 < humidity < 100
        assert ts.endswith("Z") or ts.endswith("+00:00")
    # Nothing missing in between: seqs form an unbroken run from 1.
    got = seqs(site, "gw-east")
    assert got == list(range(1, len(got) + 1))


def test_a_broker_outage_loses_nothing_and_counts_nothing_twice(site, broker, ingest, east):
    wait_until(lambda: len(seqs(site, "gw-east")) >= 10, what="the first messages")
    broker.stop()
    # The gateway keeps sampling and controlling; hundreds of messages queue in its outbox.
    wait_until(lambda: east.outbox_counts()[0] >= 300, timeout=60, what="300 messages queued in the outbox")
    broker.start()
    wait_until(lambda: east.outbox_counts()[0] < 5, timeout=60, what="the backlog to drain")
    assert east.stop() == 0
    _, last = east.outbox_counts()
    wait_until(lambda: len(seqs(site, "gw-east")) >= last, what=f"all {last} messages at the dashboard")
    assert seqs(site, "gw-east") == list(range(1, last + 1))
    historical = stored(site, "SELECT count(*) FROM messages WHERE gateway = 'gw-east' AND historical")[0][0]
    assert historical >= 300, "the backlog is marked historical"
    assert stored(site, "SELECT count(*) FROM gaps WHERE gateway = 'gw-east'")[0][0] == 0


def test_a_gateway_killed_mid_stream_continues_its_seq_and_loses_nothing(site, config_path, broker, ingest, east):
    wait_until(lambda: len(seqs(site, "gw-east")) >= 30, what="a stream of messages")
    east.kill()
    _, last_before = east.outbox_counts()
    with GatewayProcess(config_path, "gw-east", broker.port) as again:
        wait_until(lambda: again.outbox_counts()[1] >= last_before + 20, what="the restarted gateway to go on")
        assert again.stop() == 0
        _, last = again.outbox_counts()
    wait_until(lambda: len(seqs(site, "gw-east")) >= last, what=f"all {last} messages")
    assert seqs(site, "gw-east") == list(range(1, last + 1))


class Watcher:
    """A subscriber with the viewer account, collecting (topic, payload) as the broker delivers them."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex}")
        self.client.username_pw_set("viewer", broker.password("viewer"))
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def of(self, topic: str) -> list[dict]:
        return [p for t, p in list(self.messages) if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_status_is_online_with_a_rising_session_and_offline_as_the_last_will(site, config_path, broker):
    topics = protocol.Topics("demo", "gw-east")
    watcher = Watcher(broker, topics.status)
    try:
        with GatewayProcess(config_path, "gw-east", broker.port) as first:
            online = wait_until(lambda: watcher.of(topics.status), what="online")[-1]
            assert online["state"] == "online"
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
            # The broker notices the dead connection within 1.5 keepalives and publishes the Will.
            will = wait_until(
                lambda: [p for p in watcher.of(topics.status) if p["state"] == "offline"], timeout=40, what="the Will"
            )[-1]
            assert will["session"] == online["session"]
        with GatewayProcess(config_path, "gw-east", broker.port) as second:
            again = wait_until(
                lambda: [p for p in watcher.of(topics.status) if p["session"] > online["session"]], what="new session"
            )[-1]
            assert again["state"] == "online"
            assert second.stop() == 0
            goodbye = {"v": 1, "state": "offline", "session": again["session"]}
            wait_until(
                lambda: [p for p in watcher.of(topics.status) if goodbye.items() <= p.items()], what="a clean offline"
            )
    finally:
        watcher.close()


def test_rebirth_republishes_the_state_and_is_acknowledged(site, broker, east):
    topics = protocol.Topics("demo", "gw-east")
    watcher = Watcher(broker, f"{topics.root}/#")
    try:
        wait_until(lambda: watcher.of(topics.telemetry("east-stack", "dht-1")), what="a first reading")
        births_before = len(watcher.of(topics.birth))
        commander = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="test-dashboard")
        commander.username_pw_set("dashboard", broker.password("dashboard"))
        commander.connect(broker.host, broker.port)
        commander.loop_start()
        command = protocol.Command(id="c-1", ts=protocol.utc_now(), by="test")
        commander.publish(topics.cmd("rebirth"), command.to_json(), qos=1).wait_for_publish(10)
        ack = wait_until(lambda: watcher.of(topics.ack("rebirth")), what="the ack")[0]
        assert (ack["command_id"], ack["ok"]) == ("c-1", True)
        birth = wait_until(lambda: watcher.of(topics.birth)[births_before:], what="a new birth")[0]
        assert birth["rooms"][0]["id"] == "east-stack"
        assert birth["rooms"][0]["relays"][0]["kind"] == "dehumidifier"
        commander.loop_stop()
        commander.disconnect()
    finally:
        watcher.close()
