"""A room's climate alarms: out of range, daily swing, condensation risk and mould risk.

Judged on the gateway from the room's value (gateway/climate.py) on every sample, with the broker up or
not. The archive rules these defaults come from (DESIGN.md: JGJ 25 and the archive storeroom rules):
14–24 °C and 45–60 % RH, and at most ±2 °C and ±5 % RH within a day. A door opening must page nobody,
and a value hovering at a limit must not flap, so:

- out of range: raised when the value has been outside the range for `delay_s`, cleared once it is
  `hysteresis_*` back inside;
- swing: the spread of `delay_s` averages over the last 24 h, so a short spike never counts, raised
  above `swing_*` and cleared below 90 % of it;
- condensation: the dew point (Magnus) within `condensation_margin_c` of the coldest surface, taken as
  `surface_below_room_c` under the room's air, for `delay_s`;
- mould: the VTT mould index (sensors/preservation.py) reaching `mould_index`, cleared below half of it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gateway.alarms import Alarms
from hardware.config import Climate
from sensors.preservation import MouldIndex, dew_point_c

DAY_S = 24 * 3600.0
SWING_CLEAR = 0.9


@dataclass
class _Bucket:
    start: float
    t_sum: float = 0.0
    rh_sum: float = 0.0
    n: int = 0

    def mean(self) -> tuple[float, float]:
        return self.t_sum / self.n, self.rh_sum / self.n


@dataclass
class _Persisting:
    """A condition that must hold for a while before it counts."""

    since: float | None = None

    def holds(self, now: float, condition: bool, delay: float) -> bool:
        if not condition:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= delay


@dataclass
class ClimateWatch:
    room_id: str
    climate: Climate
    alarms: Alarms
    _outside: dict[str, _Persisting] = field(default_factory=dict)
    _buckets: deque[_Bucket] = field(default_factory=deque)
    _mould: MouldIndex = field(default_factory=MouldIndex)
    _last: float | None = None

    def update(self, now: float, temperature_c: float | None, humidity_rh: float | None) -> None:
        """Judge the room's value at monotonic time `now` (None: not usable, nothing to judge)."""
        if temperature_c is None or humidity_rh is None:
            self._last = None
            return
        hours = 0.0 if self._last is None else min(now - self._last, 3600.0) / 3600.0
        self._last = now
        self._ranges(now, temperature_c, humidity_rh)
        self._swing(now, temperature_c, humidity_rh)
        self._condensation(now, temperature_c, humidity_rh)
        self._mould_risk(temperature_c, humidity_rh, hours)

    def _ranges(self, now: float, t: float, rh: float) -> None:
        a = self.climate.alarms
        limits = (
            ("temperature", t, self.climate.temperature_c, a.hysteresis_c, "°C"),
            ("humidity", rh, self.climate.humidity_rh, a.hysteresis_rh, "% RH"),
        )
        for name, value, band, hysteresis, unit in limits:
            for side, outside, inside in (
                ("high", value > band.high, value <= band.high - hysteresis),
                ("low", value < band.low, value >= band.low + hysteresis),
            ):
                kind = f"{name}_{side}"
                persisting = self._outside.setdefault(kind, _Persisting())
                limit = band.high if side == "high" else band.low
                due = persisting.holds(now, outside, a.delay_s)
                if due or (inside and self.alarms.is_active(kind, self.room_id)):
                    word = "above" if side == "high" else "below"
                    self.alarms.set(
                        kind,
                        due,
                        room=self.room_id,
                        message=f"{name} {value:.1f} {unit} {word} {limit:g} {unit} for {a.delay_s / 60:.0f} min",
                        cleared_message=f"{name} {value:.1f} {unit}, back within {band.low:g}–{band.high:g} {unit}",
                        data={"value": round(value, 2), "limit": limit},
                    )

    def _swing(self, now: float, t: float, rh: float) -> None:
        a = self.climate.alarms
        width = max(a.delay_s, 60.0)
        if not self._buckets or now - self._buckets[-1].start >= width:
            self._buckets.append(_Bucket(now))
        bucket = self._buckets[-1]
        bucket.t_sum, bucket.rh_sum, bucket.n = bucket.t_sum + t, bucket.rh_sum + rh, bucket.n + 1
        while self._buckets and now - self._buckets[0].start > DAY_S:
            self._buckets.popleft()
        means = [b.mean() for b in list(self._buckets)[:-1]]  # finished averages only
        if not means:
            return
        for name, index, limit, unit in (("temperature", 0, a.swing_c, "°C"), ("humidity", 1, a.swing_rh, "% RH")):
            values = [m[index] for m in means]
            spread = max(values) - min(values)
            kind = f"{name}_swing"
            active = self.alarms.is_active(kind, self.room_id)
            if spread > limit or (active and spread < limit * SWING_CLEAR):
                self.alarms.set(
                    kind,
                    spread > limit,
                    room=self.room_id,
                    severity="warning",
                    message=f"{name} swung {spread:.1f} {unit} within 24 h (at most {limit:g} {unit})",
                    cleared_message=f"{name} swing within 24 h back to {spread:.1f} {unit}",
                    data={"value": round(spread, 2), "limit": limit},
                )

    def _condensation(self, now: float, t: float, rh: float) -> None:
        a = self.climate.alarms
        surface = t - a.surface_below_room_c
        dew = dew_point_c(t, rh)
        persisting = self._outside.setdefault("condensation_risk", _Persisting())
        due = persisting.holds(now, dew >= surface - a.condensation_margin_c, a.delay_s)
        clear = dew < surface - a.condensation_margin_c - 0.5
        if due or (clear and self.alarms.is_active("condensation_risk", self.room_id)):
            self.alarms.set(
                "condensation_risk",
                due,
                room=self.room_id,
                message=f"dew point {dew:.1f} °C within {a.condensation_margin_c:g} °C of the coldest surface "
                f"(about {surface:.1f} °C)",
                cleared_message=f"dew point {dew:.1f} °C, well below the coldest surface",
                data={"value": round(dew, 2), "limit": round(surface - a.condensation_margin_c, 2)},
            )

    def _mould_risk(self, t: float, rh: float, hours: float) -> None:
        threshold = self.climate.alarms.mould_index
        index = self._mould.step(t, rh, hours) if hours > 0 else self._mould.index
        active = self.alarms.is_active("mould_risk", self.room_id)
        if index >= threshold or (active and index < threshold / 2):
            self.alarms.set(
                "mould_risk",
                index >= threshold,
                room=self.room_id,
                message=f"mould index {index:.2f} (VTT model): damp has lasted long enough for mould to start",
                cleared_message=f"mould index back to {index:.2f}",
                data={"value": round(index, 3), "limit": threshold},
            )

    @property
    def mould_index(self) -> float:
        return self._mould.index
