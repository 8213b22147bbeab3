"""The site's broker: real Mosquitto, no anonymous clients, and an ACL of least privilege.

Under MQTT 3.1.1 a publish the ACL refuses is dropped silently, so every refusal here is checked by what
a subscriber receives: a forbidden message followed by an allowed sentinel; when the sentinel arrives,
the forbidden one would have arrived before it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hardware.broker import Broker, BrokerError, read_password
from hardware.process import die_with_parent
from tests.support import wait_until


def connect(broker: Broker, account: str | None, password: str | None = None) -> tuple[mqtt.Client, str]:
    """A connected client and the broker's answer to its CONNECT ('Success' or the refusal)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    if account:
        client.username_pw_set(account, password if password is not None else broker.password(account))
    answer = threading.Event()
    reason: list[str] = []
    client.on_connect = lambda _c, _u, _f, code, _p: (reason.append(str(code)), answer.set())
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert answer.wait(10), "no CONNACK"
    return client, reason[0]


class Subscriber:
    """The viewer, listening to everything under storeroom/."""

    def __init__(self, broker: Broker) -> None:
        self.received: list[str] = []
        self.client, _ = connect(broker, "viewer")
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        self.client.subscribe("storeroom/#", qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def delivered(broker: Broker, account: str, topic: str) -> bool:
    """Does a message `account` publishes on `topic` reach a subscriber?"""
    watcher = Subscriber(broker)
    sentinel = "storeroom/demo/gw-west/event/sentinel"
    writer, _ = connect(broker, account)
    sentry, _ = connect(broker, "gw-west")
    try:
        # Make sure the subscription is in place: the sentinel must arrive before we test anything.
        wait_until(
            lambda: sentry.publish(sentinel, b"{}", qos=1).wait_for_publish(5) or sentinel in watcher.received,
            what="the subscription to take effect",
        )
        watcher.received.clear()
        writer.publish(topic, b"{}", qos=1).wait_for_publish(5)
        sentry.publish(sentinel, b"{}", qos=1).wait_for_publish(5)
        wait_until(lambda: sentinel in watcher.received, what="the sentinel")
        return topic in watcher.received
    finally:
        for client in (writer, sentry):
            client.loop_stop()
            client.disconnect()
        watcher.close()


def test_the_broker_answers_an_account_with_its_password(broker):
    client, answer = connect(broker, "gw-east")
    assert answer == "Success"
    client.loop_stop()


def test_anonymous_clients_are_refused(broker):
    _, answer = connect(broker, None)
    assert answer == "Not authorized"


def test_a_wrong_password_is_refused(broker):
    _, answer = connect(broker, "gw-east", "not-the-password")
    assert answer == "Not authorized"


def test_a_gateway_writes_under_its_own_root(broker):
    assert delivered(broker, "gw-east", "storeroom/demo/gw-east/telemetry/east-stack/dht-1")


def test_a_gateway_cannot_write_under_another_gateways_root(broker):
    assert not delivered(broker, "gw-east", "storeroom/demo/gw-west/telemetry/west-stack/dht-1")


def test_a_gateway_cannot_write_outside_the_site(broker):
    assert not delivered(broker, "gw-east", "storeroom/other-site/gw-east/status")


def test_the_viewer_writes_nothing(broker):
    assert not delivered(broker, "viewer", "storeroom/demo/gw-east/cmd/rebirth")


def test_the_dashboard_sends_commands_but_no_telemetry(broker):
    assert delivered(broker, "dashboard", "storeroom/demo/gw-east/cmd/rebirth")
    assert not delivered(broker, "dashboard", "storeroom/demo/gw-east/telemetry/east-stack/dht-1")
    assert not delivered(broker, "dashboard", "storeroom/demo/gw-east/cmd/rebirth/ack")


def test_passwords_are_kept_across_brokers(site, broker):
    first = broker.password("gw-east")
    broker.stop()
    with Broker(site, port=0) as again:
        again.start()
        assert again.password("gw-east") == first
        assert connect(again, "gw-east")[1] == "Success"


def test_passwords_are_private_files(site, broker):
    path = site.storage.secrets / "gw-east.password"
    assert path.stat().st_mode & 0o077 == 0


def test_restart_keeps_the_port(broker):
    port = broker.port
    broker.restart()
    assert broker.running and broker.port == port
    assert connect(broker, "viewer")[1] == "Success"


def test_stop_leaves_no_mosquitto_behind(broker):
    config = str(broker.workdir / "mosquitto.conf")
    broker.stop()
    left = subprocess.run(["pgrep", "-f", config], capture_output=True, text=True)
    assert left.stdout == ""


def test_a_missing_password_names_the_file_and_the_remedy(site):
    (site.storage.secrets / "gw-west.password").unlink()
    with pytest.raises(BrokerError, match=r"gw-west\.password: no broker password for 'gw-west'.*storeroom broker run"):
        read_password(site, "gw-west")


def test_broker_run_on_the_command_line(site):
    process = subprocess.Popen(
        [sys.executable, "-m", "storeroom", "broker", "run", "--config", str(site.source), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("MQTT: mqtt://viewer:")
        assert "@127.0.0.1:" in line
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    left = subprocess.run(["pgrep", "-f", str(site.storage.dir)], capture_output=True, text=True)
    assert left.stdout == ""
