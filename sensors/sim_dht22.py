"""A DHT22 in the simulated storeroom: the room's true climate as a DHT22 reports it.

It reports to the sensor's 0.1 resolution with a little noise, and fails now and then with the errors
people meet on real Pis, in the words of Adafruit's driver, as a "failed" sample the caller carries on
from. Issue #4 replaces this with the real adafruit-circuitpython-dht driver decoding pulse trains from a
modelled DHT22; the `ClimateSensor` interface stays, so that change is local to sensors/.
"""

from __future__ import annotations

import random
from typing import Protocol

from hardware.config import Sensor
from sensors.climate import ClimateSample

ROUTINE_ERRORS = ("A full buffer was not returned. Try again.", "Checksum did not validate. Try again.")
"""What Adafruit's driver raises for a garbled or short pulse train: routine on a Pi, retried next read."""
NO_RESPONSE = "DHT sensor not found, check wiring"
"""What the driver raises when nothing answers at all (an unplugged sensor)."""
FAILURE_RATE = 0.03
"""Share of reads that fail: a few per cent is what a DHT22 on a metre or two of cable does."""
NOISE_C, NOISE_RH = 0.1, 0.5
"""Standard deviation of read-to-read noise: within about ±0.2 °C and ±1 % RH. (The datasheet's ±0.5 °C
and ±2 % RH accuracy is mostly a steady offset per unit, not modelled.)"""


class _Room(Protocol):
    def climate(self, room_id: str) -> tuple[float, float]: ...

    def sensor_connected(self, room_id: str, sensor_id: str) -> bool: ...


class SimulatedDHT22:
    """A DHT22 in `room_id` of the simulated `world`; `rng` decides its noise and its failures."""

    def __init__(self, world: _Room, room_id: str, sensor: Sensor, rng: random.Random) -> None:
        self.world = world
        self.room_id = room_id
        self.sensor = sensor
        self.rng = rng

    def read(self) -> ClimateSample:
        if not self.world.sensor_connected(self.room_id, self.sensor.id):
            return ClimateSample(None, None, "failed", NO_RESPONSE)
        if self.rng.random() < FAILURE_RATE:
            return ClimateSample(None, None, "failed", self.rng.choice(ROUTINE_ERRORS))
        temperature, humidity = self.world.climate(self.room_id)
        temperature += self.rng.gauss(0.0, NOISE_C)
        humidity = min(99.9, max(0.0, humidity + self.rng.gauss(0.0, NOISE_RH)))  # it reports 0-99.9 %
        return ClimateSample(round(temperature, 1), round(humidity, 1), "ok")
