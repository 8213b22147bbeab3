"""A DHT22 read through Adafruit's driver (`adafruit-circuitpython-dht`), on a Pi or on the simulated line.

The probe does one raw read and says plainly when it failed; making a trusted value out of raw reads
(retries, medians, spikes, staleness) is `sensors.sampler`'s job.
"""

from __future__ import annotations

import random
from typing import Any

from hardware.clock import Clock
from hardware.config import Sensor
from sensors.climate import ProbeError

MIN_INTERVAL_S = 2.0
"""The datasheet's minimum time between reads. Within it the driver silently hands back its previous
values, so the probe refuses instead: an old value must never pass for a new one."""


class DHT22Probe:
    """One DHT22. `driver` is an `adafruit_dht.DHT22`; `before_read` runs before each of its reads."""

    def __init__(self, sensor: Sensor, driver: Any, clock: Clock, before_read: Any = None) -> None:
        self.sensor = sensor
        self.driver = driver
        self.clock = clock
        self._before_read = before_read
        self._last_attempt: float | None = None
        self.model: Any = None
        """The modelled sensor behind a simulated probe (tests compare what it sent with what was decoded)."""

    def measure(self) -> tuple[float, float]:
        """(°C, % RH) as the sensor sent them, or ProbeError with the driver's reason."""
        now = self.clock.monotonic()
        if self._last_attempt is not None and now - self._last_attempt <= MIN_INTERVAL_S:
            raise ProbeError(f"read again after {now - self._last_attempt:.1f} s; a DHT22 needs {MIN_INTERVAL_S} s")
        self._last_attempt = now
        if self._before_read:
            self._before_read()
        try:
            self.driver.measure()
        except (RuntimeError, OSError) as exc:  # the driver's routine failures, and GPIO errors below it
            raise ProbeError(str(exc)) from None
        temperature, humidity = self.driver.temperature, self.driver.humidity
        if temperature is None or humidity is None:
            raise ProbeError("the driver returned no values")
        return float(temperature), float(humidity)

    def close(self) -> None:
        self.driver.exit()


def open_pi(sensor: Sensor, clock: Clock) -> DHT22Probe:
    """The DHT22 on a Pi's GPIO, through Blinka."""
    try:
        import adafruit_dht
        import board
    except (ImportError, NotImplementedError, RuntimeError) as exc:
        raise ProbeError(
            f"sensor {sensor.id}: Adafruit's DHT driver cannot load here ({exc}); install the `pi` extra on a Pi"
        ) from None
    pin = getattr(board, f"D{sensor.pin}", None)
    if pin is None:
        board_id = getattr(board, "board_id", "unknown")
        raise ProbeError(f"sensor {sensor.id}: Blinka's board {board_id!r} has no pin D{sensor.pin}; is this a Pi?")
    driver = adafruit_dht.DHT22(pin, use_pulseio=sensor.decode == "pulseio")
    return DHT22Probe(sensor, driver, clock)


def open_simulated(sensor: Sensor, world: Any, room_id: str, clock: Clock, rng: random.Random) -> DHT22Probe:
    """The same driver on a modelled DHT22 in `room_id` of the simulated `world` (see hardware/blinka_sim.py)."""
    from hardware.blinka_sim import DriverTime, SimPin, load_adafruit_dht
    from hardware.dht22_model import DHT22Model

    model = DHT22Model(
        lambda: world.climate(room_id),
        lambda: world.sensor_fault(room_id, sensor.id),
        random.Random(rng.random()),
    )
    time = DriverTime(clock, random.Random(rng.random()))
    adafruit_dht = load_adafruit_dht(time)
    driver = adafruit_dht.DHT22(SimPin(model, time, f"D{sensor.pin}"), use_pulseio=sensor.decode == "pulseio")
    probe = DHT22Probe(sensor, driver, clock, before_read=time.sync)
    probe.model = model
    return probe
