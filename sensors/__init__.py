"""Sensors: climate (DHT22 now; SHT3x/SHT4x and RS-485 probes behind the same interface later).

Drivers give `ClimateSample`s (sensors/climate.py); `open_climate_sensor` picks the implementation for a
configured sensor and backend, so the gateway never asks which one it got.
"""

from __future__ import annotations

import random
from typing import Any

from hardware.config import Sensor
from sensors.climate import ClimateSample, ClimateSensor

__all__ = ["ClimateSample", "ClimateSensor", "open_climate_sensor"]


def open_climate_sensor(sensor: Sensor, backend: str, world: Any, room_id: str, rng: random.Random) -> ClimateSensor:
    """The driver for a configured sensor: on the simulated `world` for backend "sim" (`rng` gives its noise
    and failures), the real device for "pi". Nothing of the real driver is imported off a Pi."""
    if backend == "sim":
        from sensors.sim_dht22 import SimulatedDHT22

        return SimulatedDHT22(world, room_id, sensor, rng)
    raise NotImplementedError(
        f"sensor {sensor.id!r}: the real DHT22 driver (adafruit-circuitpython-dht) arrives with issue #4; "
        "until then only hardware.backend = 'sim' can read climate"
    )
