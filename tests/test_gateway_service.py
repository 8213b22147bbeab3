"""The gateway on the simulated world: it keeps sampling and controlling whatever its devices do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.service import GatewayService
from hardware.clock import SimClock
from hardware.config import load
from tests.support import wait_until, write_site


@contextmanager
def running(service: GatewayService) -> Iterator[GatewayService]:
    """The service on its own thread, as `storeroom gateway run` runs it, stopped afterwards."""
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    yield service
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "the gateway stops when asked"


@pytest.fixture
def east(site, broker):
    password = broker.password("gw-east")
    with running(GatewayService(site, "gw-east", password=password, broker_port=broker.port, clock=SimClock(200))) as s:
        yield s


def site_text(folder) -> str:
    return write_site(folder / "site").read_text(encoding="utf-8")


def queued(service: GatewayService, kind: str) -> list[dict]:
    """Messages of one kind the gateway has produced and not yet had acknowledged, or had acknowledged."""
    return [json.loads(m.payload) for m in service.outbox.after(0, 100_000) if f"/{kind}" in m.topic]


def test_an_unplugged_sensor_raises_stale_then_failed_and_clears_when_it_reads_again(east, broker):
    assert east.link.wait_connected(10)
    # A sensor that never gave a value is failed at once, never stale: let it read once before unplugging it.
    wait_until(lambda: "dht-1" in east.controls["east-stack"].value.used, timeout=120, what="dht-1 read once")
    broker.stop()  # keep everything in the outbox, where the test can read it
    east.world.unplug_sensor("east-stack", "dht-1")
    stale = wait_until(lambda: queued(east, "event/sensor_stale"), what="a sensor_stale alarm", timeout=180)
    assert stale[0]["device"] == "dht-1" and stale[0]["severity"] == "warning"
    assert "DHT sensor not found, check wiring" in stale[0]["message"]
    failed = wait_until(lambda: queued(east, "event/sensor_failed"), what="a sensor_failed alarm", timeout=180)
    assert failed[0]["severity"] == "alarm"
    assert any(e["data"].get("cleared") for e in queued(east, "event/sensor_stale"))  # it is failed now, not stale
    fail_safe = wait_until(lambda: queued(east, "event/climate_fail_safe"), 180, "the room's fail-safe alarm")
    assert fail_safe[0]["room"] == "east-stack" and "dehumidifiers off" in fail_safe[0]["message"]
    assert east.world.dehumidifiers_running("east-stack") == []
    values = queued(east, "climate/east-stack")
    assert values[0]["used"] == ["dht-1"] and values[-1]["used"] == []  # the room says it has nothing to go by
    readings = [r for r in queued(east, "telemetry") if r["state"] == "failed"]
    assert readings and all("humidity_rh" not in r for r in readings)

    east.world.plug_in_sensor("east-stack", "dht-1")
    wait_until(
        lambda: [e for e in queued(east, "event/sensor_failed") if e["data"].get("cleared")],
        what="the sensor_failed alarm to clear",
        timeout=180,
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


@pytest.fixture
def small_tank(tmp_path):
    """The east stack with a 0.3 l tank that nobody empties, in a room as damp as the summer outside."""
    text = site_text(tmp_path)
    text = text.replace("tank_l = 10.0", "tank_l = 0.3").replace(
        "tank_emptied_after_h = 1.0", "tank_emptied_after_h = 0"
    )
    text = text.replace("humidity_rh = 58.0", "humidity_rh = 75.0", 1)
    path = tmp_path / "tank.toml"
    path.write_text(text, encoding="utf-8")
    # No broker: everything stays in the outbox, where the test reads it.
    with running(GatewayService(load(path), "gw-east", password="unused", broker_port=1, clock=SimClock(300))) as s:
        yield s


def test_a_full_tank_stops_its_unit_with_an_alarm_until_it_is_emptied(small_tank):
    relay_on = wait_until(lambda: [e for e in queued(small_tank, "event/relay") if e["data"]["on"]], what="a start")
    assert relay_on[0]["device"] == "dehum-1"
    full = wait_until(lambda: queued(small_tank, "event/dehumidifier_tank_full"), timeout=90, what="tank full")
    assert full[0]["severity"] == "alarm" and full[0]["device"] == "dehum-1"
    off = [e for e in queued(small_tank, "event/relay") if not e["data"]["on"]]
    assert off and off[-1]["data"]["reason"] == "tank full"
    assert small_tank.world.dehumidifiers_running("east-stack") == []

    small_tank.world.empty_tank("east-stack", "dehum-1")
    wait_until(
        lambda: [e for e in queued(small_tank, "event/dehumidifier_tank_full") if e["data"].get("cleared")],
        what="the tank alarm to clear",
    )
    wait_until(lambda: small_tank.world.dehumidifiers_running("east-stack"), what="the unit to run again")


def test_a_tag_presented_at_a_reader_is_one_tag_read_event(tmp_path):
    from rfid import media, tagformat
    from rfid.cards import NtagCard
    from rfid.keys import signing_key

    path = write_site(tmp_path / "site", speed=50.0)
    path.write_text(path.read_text().replace("tag_scans_per_hour = 20.0", "tag_scans_per_hour = 0.0"))
    site = load(path)  # no simulated keeper: the test lays the only tag
    with running(GatewayService(site, "gw-east", password="unused", broker_port=1, clock=SimClock(50))) as east:
        (shelf,) = [r for r in east.readers if r.config.id == "east-shelf"]
        key_id, key = signing_key(site)
        card = NtagCard(bytes.fromhex("04112233445566"))
        payload = tagformat.encode("dossier", "A001-2026-00042", card.uid, key_id, key)
        for write in media.plan(payload, card.uid, "ntag213", key):  # enrolled at the factory
            card.store(write.address, write.data)
        shelf.field.enter(card)
        (read,) = wait_until(lambda: queued(east, "event/tag_read"), what="the tag's event")
        assert read["device"] == "east-shelf"
        assert {k: read["data"][k] for k in ("valid", "kind", "code", "location")} == {
            "valid": True, "kind": "dossier", "code": "A001-2026-00042", "location": "east-stack/shelf-1"
        }  # fmt: skip
        time.sleep(1)  # many polls later, still on the reader: still one event
        assert len(queued(east, "event/tag_read")) == 1


def test_the_simulated_keeper_lays_dossier_tags_on_the_readers(tmp_path):
    site = load(write_site(tmp_path / "site", speed=600.0))
    with running(GatewayService(site, "gw-east", password="unused", broker_port=1, clock=SimClock(600))) as east:
        reads = wait_until(lambda: queued(east, "event/tag_read")[3:], timeout=180, what="a few scans")
    valid = [r["data"] for r in reads if r["data"]["valid"]]
    assert valid and all(r["kind"] == "dossier" and r["code"].startswith("DA-2026-") for r in valid)
    assert {r["data"]["reader"] for r in reads} <= {"east-shelf", "east-door"}
