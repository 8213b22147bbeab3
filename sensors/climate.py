"""What every climate sensor gives the gateway: a sample with its state, whatever the sensor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

SensorState = Literal["ok", "degraded", "stale", "failed"]
"""ok: a fresh, plausible value. degraded: a value, but doubtful: this cycle's read failed or was refused and
the value is a recent one (`age_s` says how recent). stale: the last good value, too old to control by.
failed: no value at all; `error` says why."""

USABLE: tuple[SensorState, ...] = ("ok", "degraded")
"""States whose values may drive control; a stale or failed sensor sends the room to its safe state."""


class ProbeError(RuntimeError):
    """One raw read failed; the message says why, in the driver's words where it has some."""


@dataclass(frozen=True)
class ClimateSample:
    """One sampling cycle's result. A failed sample has no values and says why in `error`."""

    temperature_c: float | None
    humidity_rh: float | None
    state: SensorState
    error: str | None = None
    age_s: float = 0.0
    """How old the values are: 0 for a fresh read, more when a degraded or stale sample repeats an older one."""

    @property
    def usable(self) -> bool:
        return self.state in USABLE and self.humidity_rh is not None


class ClimateProbe(Protocol):
    """A sensor's raw read: DHT22 now; SHT3x/SHT4x on I2C or an RS-485 Modbus probe fit the same seam."""

    def measure(self) -> tuple[float, float]:
        """(°C, % RH) from one read, or ProbeError. Never faster than the device allows."""

    def close(self) -> None: ...
