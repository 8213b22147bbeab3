"""The dashboard's ingest through a real Mosquitto with the site's accounts and ACL.

A test publishes as a gateway would, with that gateway's own account (so only under its own root),
good messages and bad ones; the ingest stores the good, refuses and counts the bad, and keeps going.
What the ingest stored is read back from the SQLite file the way the web app reads it.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dashboard.ingest import Ingest
from dashboard.store import Store
from gateway import protocol
from tests.support import wait_until

EAST = protocol.Topics("demo", "gw-east")


class GatewayAccount:
    """An MQTT connection with a gateway's broker account, publishing at QoS 1 as the gateway does."""

    def __init__(self, broker, gateway_id: str, *, will: bytes | None = None, keepalive: int = 60) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{gateway_id}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv311,
        )
        self.client.username_pw_set(gateway_id, broker.password(gateway_id))
        if will is not None:
            self.client.will_set(protocol.Topics("demo", gateway_id).status, will, qos=1, retain=True)
        self.client.connect(broker.host, broker.port, keepalive=keepalive)
        self.client.loop_start()

    def listen(self, topic: str) -> list[protocol.Message]:
        """Collect what arrives on `topic` (as the gateway's commands arrive), parsed by the protocol."""
        heard: list[protocol.Message] = []
        subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, m: heard.append(protocol.parse(m.topic, m.payload))
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        return heard

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def vanish(self) -> None:
        """Stop answering without a goodbye, as a gateway whose cable was pulled: the broker sends its Will."""
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def reading(seq: int, humidity: float = 55.0) -> bytes:
    return protocol.Reading(
        id=f"r{seq}",
        seq=seq,
        ts=protocol.utc_now(),
        room="east-stack",
        sensor="dht-1",
        state="ok",
        temperature_c=20.0,
        humidity_rh=humidity,
    ).to_json()


def status(state: str, session: int) -> bytes:
    return protocol.Status(state=state, session=session, ts=protocol.utc_now()).to_json()


def start_ingest(site, broker) -> Ingest:
    running = Ingest(
        site,
        site.dashboard_database,
        host=broker.host,
        port=broker.port,
        username="dashboard",
        password=broker.password("dashboard"),
    )
    running.start()
    assert running.wait_ready(15), "the ingest did not subscribe"
    return running


@pytest.fixture
def ingest(site, broker) -> Iterator[Ingest]:
    running = start_ingest(site, broker)
    yield running
    running.stop()


@pytest.fixture
def east(broker) -> Iterator[GatewayAccount]:
    account = GatewayAccount(broker, "gw-east")
    yield account
    account.close()


def read(site):
    """The dashboard database as the web app opens it: read-only, its own connection."""
    return Store(site.dashboard_database, readonly=True)


def seqs(site) -> list[int]:
    with read(site) as store:
        return [row[0] for row in store.db.execute("SELECT seq FROM messages WHERE gateway = 'gw-east' ORDER BY seq")]


def stats(site) -> dict:
    with read(site) as store:
        return store.ingest_stats()


def test_good_messages_are_stored_and_bad_ones_refused_and_counted_while_the_ingest_keeps_going(site, ingest, east):
    telemetry = EAST.telemetry("east-stack", "dht-1")
    east.publish(telemetry, reading(1))
    east.publish(telemetry, b'{"v":1,"seq":')  # cut short
    east.publish(telemetry, reading(2))
    east.publish(telemetry, reading(3).replace(b'"humidity_rh":55.0', b'"humidity_rh":"55"'))  # wrong type
    east.publish(telemetry, b"[1, 2, 3]")
    east.publish(telemetry, reading(4).replace(b'"v":1', b'"v":9'))
    east.publish(EAST.telemetry("west-stack", "dht-1"), reading(5))  # says east-stack inside
    east.publish(f"{EAST.root}/no/such/kind", reading(6))
    east.publish(telemetry, b"\xff\xfe\x00")
    east.publish(telemetry, reading(7))
    east.publish(telemetry, reading(7))  # a retransmission

    wait_until(lambda: seqs(site) == [1, 2, 7], what="readings 1, 2 and 7 stored")
    wait_until(lambda: stats(site)["duplicates"] == 1, what="the repeat counted")
    assert stats(site)["refused"] == {
        "bad_topic": 1,
        "invalid": 1,
        "not_json": 2,
        "not_object": 1,
        "topic_mismatch": 1,
        "unknown_version": 1,
    }
    with read(site) as store:
        assert [r["reason"] for r in store.recent_rejects()][:2] == ["not_json", "bad_topic"]
        east_gateway = store.gateways(protocol.utc_now())[0]
    assert [(g["first"], g["last"]) for g in east_gateway["gaps"]] == [(3, 6)]


def test_an_oversized_payload_is_refused_as_too_large_and_the_next_message_stored(site, broker, ingest, east):
    telemetry = EAST.telemetry("east-stack", "dht-1")
    east.publish(telemetry, b'{"v":1,"pad":"' + b"x" * protocol.MAX_PAYLOAD_BYTES + b'"}')
    east.publish(telemetry, reading(1))
    wait_until(lambda: seqs(site) == [1], what="the reading after it")
    assert stats(site)["refused"] == {"too_large": 1}


def test_what_gateways_send_while_the_dashboard_is_down_arrives_when_it_is_back(site, broker, east):
    first = start_ingest(site, broker)
    east.publish(EAST.telemetry("east-stack", "dht-1"), reading(1))
    wait_until(lambda: seqs(site) == [1], what="the first reading")
    first.stop()

    for seq in (2, 3, 4):  # the broker keeps these for the dashboard's session
        east.publish(EAST.telemetry("east-stack", "dht-1"), reading(seq))

    again = start_ingest(site, broker)
    try:
        wait_until(lambda: seqs(site) == [1, 2, 3, 4], what="the readings sent while the dashboard was down")
    finally:
        again.stop()


def test_a_late_will_of_an_older_connection_does_not_mark_a_live_gateway_offline(site, broker, ingest):
    old = GatewayAccount(broker, "gw-east", will=status("offline", 1), keepalive=1)
    old.publish(EAST.status, status("online", 1), retain=True)
    new = GatewayAccount(broker, "gw-east")
    try:
        new.publish(EAST.status, status("online", 2), retain=True)
        old.vanish()  # the broker notices within 1.5 keepalives and publishes the old connection's Will
        wait_until(lambda: stats(site)["ignored"].get("stale_status") == 1, timeout=60, what="the late Will")
        with read(site) as store:
            east = store.gateways(protocol.utc_now())[0]
        assert (east["id"], east["state"], east["session"]) == ("gw-east", "online", 2)
    finally:
        new.close()


def test_on_a_new_session_the_dashboard_asks_every_gateway_to_republish_its_state(site, broker, east):
    commands = east.listen(EAST.commands)
    first = start_ingest(site, broker)
    first.stop()
    [rebirth] = wait_until(lambda: commands, what="a command to gw-east")
    assert (rebirth.kind, rebirth.topic, rebirth.payload.by) == ("cmd", EAST.cmd("rebirth"), "dashboard")

    commands.clear()
    again = start_ingest(site, broker)  # the broker kept the session: nothing was missed, nothing to ask
    time.sleep(1)
    again.stop()
    assert commands == []


@pytest.mark.slow
def test_a_message_the_database_cannot_take_is_delivered_again_and_stored_once(site, ingest, east):
    telemetry = EAST.telemetry("east-stack", "dht-1")
    east.publish(telemetry, reading(1))
    wait_until(lambda: seqs(site) == [1], what="the first reading")

    # Another writer holds the database longer than the ingest waits for it.
    other = sqlite3.connect(site.dashboard_database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        east.publish(telemetry, reading(2))
        wait_until(lambda: ingest.outcomes["storage_error"] >= 1, timeout=20, what="the write to fail")
    finally:
        other.execute("ROLLBACK")
        other.close()

    east.publish(telemetry, reading(3))
    wait_until(lambda: seqs(site) == [1, 2, 3], timeout=30, what="reading 2 delivered again and stored")
    assert stats(site)["accepted"] == 3


def test_the_ingest_stops_promptly_while_the_broker_is_unreachable(site, tmp_path):
    with refused_port() as port:
        running = Ingest(site, tmp_path / "dashboard.db", host="127.0.0.1", port=port, username="u", password="p")
        running.start()
        time.sleep(1.5)  # a few failed attempts
        began = time.monotonic()
        running.stop()
    assert time.monotonic() - began < 8
    assert running.failed is None
    assert not running.connected


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that is bound but not listening, so connections are refused; held so no one takes it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]
