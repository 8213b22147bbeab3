"""Adafruit's DHT22 driver, unchanged, decoding the modelled sensor's line: both of its decode paths, every fault.

The tests give the world a climate and a fault and read through the probe the gateway uses; the driver's
own framing and checksum code decides what comes back.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter

import pytest

from hardware.clock import ManualClock
from hardware.config import Sensor
from hardware.dht22_model import FAULTS, DHT22Model, encode_frame
from sensors.climate import ProbeError
from sensors.dht22 import MIN_INTERVAL_S, open_simulated

NOT_FOUND = "DHT sensor not found, check wiring"
SHORT = "A full buffer was not returned. Try again."
CHECKSUM = "Checksum did not validate. Try again."


class Room:
    """What the sensor is in: a climate and a fault, set by the test."""

    def __init__(self, temperature_c: float = 21.3, humidity_rh: float = 55.7) -> None:
        self.truth = (temperature_c, humidity_rh)
        self.fault: str | None = None

    def climate(self, room_id: str) -> tuple[float, float]:
        return self.truth

    def sensor_fault(self, room_id: str, sensor_id: str) -> str | None:
        return self.fault


def reads(decode: str, room: Room, n: int = 200, seed: int = 1) -> tuple[Counter, list[tuple[float, float]], object]:
    """`n` reads 3 s apart: how many ended how, and the values of the good ones."""
    clock = ManualClock()
    probe = open_simulated(
        Sensor(id="dht-1", type="dht22", pin=4, decode=decode), room, "r", clock, random.Random(seed)
    )
    outcomes, values = Counter(), []
    for _ in range(n):
        clock.advance(3.0)
        try:
            values.append(probe.measure())
            outcomes["ok"] += 1
        except ProbeError as exc:
            outcomes[str(exc)] += 1
    return outcomes, values, probe


DECODES = ["bitbang", "pulseio"]


@pytest.mark.parametrize("decode", DECODES)
def test_a_healthy_sensor_reads_the_room_to_its_resolution_and_fails_a_few_reads_in_a_hundred(decode):
    outcomes, values, _ = reads(decode, Room(21.3, 55.7), n=400)
    assert 0.9 * 400 <= outcomes["ok"] < 400
    assert set(outcomes) <= {"ok", SHORT, CHECKSUM}
    assert all(abs(t - 21.3) <= 0.5 and abs(h - 55.7) <= 2.5 for t, h in values)
    assert all(round(t, 1) == t and round(h, 1) == h for t, h in values)  # 0.1 resolution


@pytest.mark.parametrize("decode", DECODES)
def test_frost_comes_through_the_sign_bit(decode):
    _, values, _ = reads(decode, Room(-7.4, 80.0), n=20)
    assert values and all(-8.0 < t < -6.8 for t, _ in values)


@pytest.mark.parametrize("decode", DECODES)
def test_the_driver_decodes_exactly_the_frame_the_sensor_sent(decode):
    _, values, probe = reads(decode, Room(), n=1)
    frame = probe.model.last_frame
    humidity, temperature = (frame[0] << 8 | frame[1]) / 10, (frame[2] << 8 | frame[3]) / 10
    assert values == [(temperature, humidity)]


@pytest.mark.parametrize("decode", DECODES)
@pytest.mark.parametrize(
    ("fault", "errors"),
    [
        ("no_response", {NOT_FOUND}),
        ("short_frame", {SHORT, NOT_FOUND}),  # a frame cut after a few bits looks like no sensor at all
        ("checksum", {CHECKSUM}),
    ],
)
def test_each_line_fault_fails_every_read_with_the_drivers_words(decode, fault, errors):
    room = Room()
    room.fault = fault
    outcomes, _, _ = reads(decode, room, n=60)
    assert outcomes["ok"] == 0
    assert set(outcomes) <= errors | {SHORT, CHECKSUM}  # a routine glitch may land on top of the fault
    assert sum(outcomes[e] for e in errors) >= 55


@pytest.mark.parametrize("decode", DECODES)
def test_a_stuck_sensor_repeats_one_frame_however_the_room_changes(decode):
    room = Room()
    room.fault = "stuck"
    clock = ManualClock()
    probe = open_simulated(Sensor(id="dht-1", type="dht22", pin=4, decode=decode), room, "r", clock, random.Random(2))
    seen = set()
    for step in range(30):
        room.truth = (20.0 + step * 0.3, 50.0 + step)
        clock.advance(3.0)
        with contextlib.suppress(ProbeError):  # routine glitches still happen on the line
            seen.add(probe.measure())
    assert len(seen) == 1


@pytest.mark.parametrize("decode", DECODES)
def test_spikes_pass_the_checksum_and_are_wildly_off(decode):
    room = Room(21.0, 55.0)
    room.fault = "spikes"
    _, values, _ = reads(decode, room, n=100)
    wild = [(t, h) for t, h in values if abs(t - 21.0) > 5 or abs(h - 55.0) > 10]
    assert 10 <= len(wild) <= 50


def test_reading_again_within_two_seconds_is_refused_rather_than_repeating_old_values():
    clock = ManualClock()
    probe = open_simulated(Sensor(id="dht-1", type="dht22", pin=4), Room(), "r", clock, random.Random(1))
    probe.measure()
    clock.advance(MIN_INTERVAL_S)
    with pytest.raises(ProbeError, match=r"needs 2\.0 s"):
        probe.measure()


def test_the_frame_carries_humidity_temperature_with_sign_and_a_checksum():
    assert encode_frame(21.3, 55.7) == bytes([0x02, 0x2D, 0x00, 0xD5, 0x04])  # 557, 213, (2+45+213) & 0xFF
    assert encode_frame(-10.1, 65.2) == bytes([0x02, 0x8C, 0x80, 0x65, 0x73])
    assert encode_frame(25.0, 120.0)[:2] == bytes([0x03, 0xE7])  # it never reports above 99.9 % RH


def test_every_fault_the_world_can_set_is_one_the_model_knows():
    model = DHT22Model(lambda: (20.0, 50.0), lambda: None, random.Random(1))
    assert FAULTS == ("no_response", "short_frame", "checksum", "stuck", "spikes")
    assert model.respond(0.0).level(-1.0) is True  # the line idles high
