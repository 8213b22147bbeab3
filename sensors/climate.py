"""What every climate sensor gives the gateway: a sample with its state, whatever the sensor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

SensorState = Literal["ok", "degraded", "stale", "failed"]
"""ok: a fresh, plausible read. degraded: values, but doubtful (e.g. implausible jumps). stale: the last good
values, too old to trust. failed: no values this time; `error` says why."""


@dataclass(frozen=True)
class ClimateSample:
    """One read. A failed read has no values and says why in `error`; the caller keeps going."""

    temperature_c: float | None
    humidity_rh: float | None
    state: SensorState
    error: str | None = None


class ClimateSensor(Protocol):
    def read(self) -> ClimateSample:
        """Read once; never raise for the routine failures of the device (they are a failed sample)."""
