"""Room climate: combine a room's sensors into one value and run its dehumidifiers by a hygrostat.

This is the first, plain controller: a target band with hysteresis, and a safe hold when the room has
no usable reading. Issue #4 grows it into the archive-grade controller (minimum on/off times, staggered
starts, tank-full inputs, run-time alarms); it runs on the gateway and never waits for the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from gateway.protocol import check_band
from hardware.config import Climate
from sensors.climate import ClimateSample


@dataclass(frozen=True)
class RoomClimate:
    """One value per room from its usable sensors, and which sensors those were."""

    temperature_c: float | None
    humidity_rh: float | None
    used: tuple[str, ...]


def combine(samples: dict[str, ClimateSample]) -> RoomClimate:
    """Median of the sensors that read ok or degraded; a failed or stale sensor is left out."""
    usable = {sid: s for sid, s in samples.items() if s.state in ("ok", "degraded") and s.humidity_rh is not None}
    if not usable:
        return RoomClimate(None, None, ())
    temps = [s.temperature_c for s in usable.values() if s.temperature_c is not None]
    return RoomClimate(
        temperature_c=round(median(temps), 2) if temps else None,
        humidity_rh=round(median(s.humidity_rh for s in usable.values()), 2),
        used=tuple(sorted(usable)),
    )


class Hygrostat:
    """Dehumidifiers on above the band's top, off once humidity is `hysteresis_rh` below it.

    Switching at the top of the band (not its middle) keeps compressor starts few; the hysteresis keeps a
    value hovering at the limit from toggling the relay. Without a usable reading the hygrostat holds
    its last decision: a dead sensor must neither start nor stop a compressor on its own.
    """

    def __init__(self, climate: Climate) -> None:
        self.hysteresis_rh = climate.hysteresis_rh
        self.running = False
        self.set_band(climate.humidity_rh.low, climate.humidity_rh.high)

    def set_band(self, low: float, high: float) -> None:
        """A new target band (from the config, or a command from the dashboard)."""
        check_band(low, high, self.hysteresis_rh)
        self.band = (low, high)
        self.on_above = high
        self.off_below = high - self.hysteresis_rh

    def decide(self, humidity_rh: float | None) -> bool:
        if humidity_rh is not None:
            if humidity_rh > self.on_above:
                self.running = True
            elif humidity_rh < self.off_below:
                self.running = False
        return self.running
