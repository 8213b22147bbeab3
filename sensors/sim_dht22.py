"""A DHT22 in the simulated storeroom: the room's true climate as a DHT22 reports it.

It rounds to the sensor's 0.1 resolution, adds its typical error, and fails now and then with the two
errors people meet on real Pis (the text is Adafruit's driver's). Issue #4 replaces this with the real
adafruit-circuitpython-dht driver decoding pulse trains from a modelled DHT22; the `ClimateSensor`
interface stays, so that change is local to sensors/.
"""

from __future__ import annotations

import random
from typing import Protocol

from hardware.config import Sensor
from sensors.climate import ClimateSample

ROUTINE_ERRORS = ("A full buffer was not returned. Try again.", "Checksum did not validate. Try again.")
FAILURE_RATE = 0.03
"""Share of reads that fail; a few per cent is what a DHT22 on a long cable does."""


NO_RESPONSE = "DHT sensor not found, check wiring"


class _Climate(Protocol):
    def climate(self, room_id: str) -> tuple[float, float]: ...

    def sensor_connected(self, room_id: str, sensor_id: str) -> bool: ...


class SimulatedDHT22:
    def __init__(self, world: _Climate, room_id: str, sensor: Sensor, rng: random.Random) -> None:
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
        # Datasheet accuracy: ±0.5 °C, ±2 % RH; most of it is a steady offset, the noise is smaller.
        temperature += self.rng.gauss(0.0, 0.1)
        humidity = min(100.0, max(0.0, humidity + self.rng.gauss(0.0, 0.4)))
        return ClimateSample(round(temperature, 1), round(humidity, 1), "ok")
