"""The gateway on the simulated world: it keeps sampling and controlling whatever its devices do."""

from __future__ import annotations

import json
import threading

import pytest

from gateway.service import GatewayService
from hardware.clock import SimClock
from tests.support import wait_until


@pytest.fixture
def east(site, broker):
    service = GatewayService(
        site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port, clock=SimClock(speed=200)
    )
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    yield service
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "the gateway stops when asked"


def queued(service: GatewayService, kind: str) -> list[dict]:
    """Messages of one kind the gateway has produced and not yet had acknowledged, or had acknowledged."""
    return [json.loads(m.payload) for m in service.outbox.after(0, 100_000) if f"/{kind}" in m.topic]


def test_an_unplugged_sensor_raises_stale_then_failed_and_clears_when_it_reads_again(east, broker):
    assert east.link.wait_connected(10)
    broker.stop()  # keep everything in the outbox, where the test can read it
    east.world.unplug_sensor("east-stack", "dht-1")
    stale = wait_until(lambda: queued(east, "event/sensor_stale"), what="a sensor_stale alarm")
    assert stale[0]["device"] == "dht-1" and stale[0]["severity"] == "warning"
    assert "DHT sensor not found, check wiring" in stale[0]["message"]
    failed = wait_until(lambda: queued(east, "event/sensor_failed"), what="a sensor_failed alarm")
    assert failed[0]["severity"] == "alarm"
    assert any(e["data"].get("cleared") for e in queued(east, "event/sensor_stale"))  # it is failed now, not stale
    readings = [r for r in queued(east, "telemetry") if r["state"] == "failed"]
    assert readings and all("humidity_rh" not in r for r in readings)

    east.world.plug_in_sensor("east-stack", "dht-1")
    wait_until(
        lambda: [e for e in queued(east, "event/sensor_failed") if e["data"].get("cleared")],
        what="the sensor_failed alarm to clear",
    )


def test_the_dehumidifier_runs_while_the_broker_is_down(east, broker):
    assert east.link.wait_connected(10)
    broker.stop()
    east.world.open_door("east-stack", "main-door")  # summer air floods in; the hygrostat must react alone
    relay = wait_until(
        lambda: [e for e in queued(east, "event/relay") if e["data"]["on"]], timeout=60, what="the relay to switch on"
    )
    assert relay[0]["data"]["humidity_rh"] > 60
    assert east.world.dehumidifiers_running("east-stack") == ["dehum-1"]
    assert any(e["data"]["open"] for e in queued(east, "event/door"))
