"""Sensors: climate (DHT22 now; SHT3x/SHT4x and RS-485 probes fit the same `ClimateProbe` seam).

A probe does raw reads (sensors/dht22.py); a `Sampler` (sensors/sampler.py) makes them a trusted value
with a state. `open_climate_sensor` picks the probe for a configured sensor and backend once, so the
gateway never asks which one it got.
"""

from __future__ import annotations

import random
from typing import Any

from hardware.clock import Clock
from hardware.config import Sensor
from sensors.climate import ClimateProbe, ClimateSample, ProbeError
from sensors.sampler import Sampler

__all__ = ["ClimateProbe", "ClimateSample", "ProbeError", "Sampler", "open_climate_sensor"]


def open_climate_sensor(
    sensor: Sensor, backend: str, world: Any, room_id: str, rng: random.Random, clock: Clock
) -> Sampler:
    """The sampler for a configured sensor: Adafruit's DHT22 driver on the Pi's GPIO for backend "pi", or
    on a modelled DHT22 in the simulated `world` for "sim" (`rng` draws its noise and glitches)."""
    from sensors import dht22

    if backend == "sim":
        probe = dht22.open_simulated(sensor, world, room_id, clock, rng)
    else:
        probe = dht22.open_pi(sensor, clock)
    return Sampler(sensor, probe, clock)
