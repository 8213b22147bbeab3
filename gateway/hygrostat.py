"""One room's dehumidifiers, run to a humidity band the way a facilities engineer would wire a controller.

- Demand: on above `start_below_top_rh` under the band's top, off once humidity is `hysteresis_rh` lower.
  Switching near the top of the band (not its middle) keeps compressor starts few; the margin keeps the
  overshoot inside the band; the hysteresis keeps a value hovering at the limit from toggling the relay.
- Compressor protection: no unit runs less than `min_on_s` or rests less than `min_off_s`; after a restart
  of the gateway every unit counts as just stopped. Units of one room start `stagger_s` apart.
- Safety stops override protection: a full tank, or a unit that ran `ineffective_after_s` without once
  pulling humidity down by `ineffective_drop_rh` (rested `lockout_s`, then tried again).
- Without a usable humidity the room goes to its `fail_safe` state; a manual override (on or off, with an
  expiry) replaces the demand; an idle unit can be run for `keepalive_run_s` every `keepalive_every_h`.

`step()` is a pure decision over the time it is given: it touches no pins, so the gateway applies it and
the tests drive it on any clock. It never needs the broker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from gateway.protocol import check_band
from hardware.config import Climate

Mode = Literal["on", "off"]
MEAN_S = 600.0
"""Humidity is judged in 10-minute means when deciding whether a unit dries the room."""


@dataclass
class Unit:
    """One dehumidifier as the hygrostat sees it."""

    id: str
    on: bool = False
    since: float = 0.0
    """When it last switched (monotonic seconds)."""
    window_start: float = 0.0
    """When the current effectiveness window began (while running)."""
    peak_rh: float | None = None
    drawdown_rh: float = 0.0
    """Highest 10-minute mean humidity of the window, and the most it has fallen below a peak since."""
    bucket: tuple[float, float, int] = (0.0, 0.0, 0)
    """(start, sum, count) of the 10-minute mean being gathered."""
    blocked: str | None = None
    """Why it may not run: "tank_full" or "ineffective"; None when free."""
    blocked_until: float = 0.0
    last_run_end: float = 0.0


@dataclass
class Decision:
    """What `step` decided: each unit's state, and the conditions the gateway raises alarms for."""

    units: dict[str, bool]
    fail_safe: bool = False
    long_run: list[str] = field(default_factory=list)
    tank_full: list[str] = field(default_factory=list)
    ineffective: list[str] = field(default_factory=list)
    override: Mode | None = None


class Hygrostat:
    def __init__(self, climate: Climate, unit_ids: list[str], now: float) -> None:
        self.control = climate.control
        self.hysteresis_rh = climate.hysteresis_rh
        self.units = {uid: Unit(uid, since=now, last_run_end=now) for uid in unit_ids}
        self.demand = False
        self.override: tuple[Mode, float] | None = None
        self._last_start = -math.inf
        self.set_band(climate.humidity_rh.low, climate.humidity_rh.high)

    # -- settings -----------------------------------------------------------------------------

    def set_band(self, low: float, high: float) -> None:
        """A new target band (from the config, or a command from the dashboard)."""
        check_band(low, high, self.hysteresis_rh)
        self.band = (low, high)
        margin = min(self.control.start_below_top_rh, (high - low - self.hysteresis_rh) / 2)
        self.on_above = high - margin
        self.off_below = self.on_above - self.hysteresis_rh

    def set_override(self, mode: Mode | None, until: float) -> None:
        """Force the units on or off until `until` (monotonic); None returns them to the hygrostat."""
        self.override = (mode, until) if mode else None

    @property
    def running(self) -> bool:
        return any(u.on for u in self.units.values())

    # -- deciding -----------------------------------------------------------------------------

    def step(self, now: float, humidity_rh: float | None, tank_full: dict[str, bool] | None = None) -> Decision:
        """Each unit's state for now, from the room's humidity (None: not usable) and the units' tank inputs."""
        c = self.control
        tank_full = tank_full or {}
        if self.override and now >= self.override[1]:
            self.override = None
        fail_safe = humidity_rh is None
        if self.override:
            self.demand = self.override[0] == "on"
        elif humidity_rh is None:
            if c.fail_safe != "hold":
                self.demand = c.fail_safe == "on"
        elif humidity_rh > self.on_above:
            self.demand = True
        elif humidity_rh < self.off_below:
            self.demand = False
        decision = Decision({}, fail_safe=fail_safe, override=self.override[0] if self.override else None)
        for unit in self.units.values():
            decision.units[unit.id] = self._unit(unit, now, humidity_rh, tank_full.get(unit.id, False), decision)
        return decision

    def _unit(self, unit: Unit, now: float, humidity: float | None, tank_full: bool, decision: Decision) -> bool:
        c = self.control
        # Safety stops first: they override compressor protection.
        if tank_full:
            unit.blocked = "tank_full"
            decision.tank_full.append(unit.id)
            return self._switch(unit, False, now)
        if unit.blocked == "tank_full":
            unit.blocked = None  # emptied
        if unit.blocked == "ineffective" and now >= unit.blocked_until:
            unit.blocked = None
        if unit.on and self._ineffective(unit, now, humidity):
            unit.blocked, unit.blocked_until = "ineffective", now + c.lockout_s
        if unit.blocked == "ineffective":
            decision.ineffective.append(unit.id)
            return self._switch(unit, False, now)

        want = self.demand
        if not want and not self.override and c.keepalive_every_h > 0:
            if unit.on:
                want = now - unit.since < c.keepalive_run_s
            else:
                want = now - unit.last_run_end >= c.keepalive_every_h * 3600
        if want != unit.on:
            held = c.min_on_s if unit.on else c.min_off_s
            if now - unit.since < held:
                want = unit.on  # compressor protection
            elif want and now - self._last_start < c.stagger_s:
                want = False  # another unit of the room has just started
        if unit.on and want and now - unit.since > c.max_run_s:
            decision.long_run.append(unit.id)
        return self._switch(unit, want, now)

    def _ineffective(self, unit: Unit, now: float, humidity: float | None) -> bool:
        """Whether a running unit has gone a whole window without once pulling humidity down.

        Judged on 10-minute means, so sensor noise neither proves nor disproves anything, and on the largest
        fall from a peak within the window, so a door opened meanwhile (humidity rising despite the unit)
        does not condemn a unit that dried the room before or after it.
        """
        if humidity is not None:
            start, total, n = unit.bucket
            total, n = total + humidity, n + 1
            if now - start >= MEAN_S:
                mean = total / n
                unit.peak_rh = mean if unit.peak_rh is None else max(unit.peak_rh, mean)
                unit.drawdown_rh = max(unit.drawdown_rh, unit.peak_rh - mean)
                start, total, n = now, 0.0, 0
            unit.bucket = (start, total, n)
        if now - unit.window_start < self.control.ineffective_after_s:
            return False
        failed = unit.peak_rh is not None and unit.drawdown_rh < self.control.ineffective_drop_rh
        self._new_window(unit, now)
        return failed

    @staticmethod
    def _new_window(unit: Unit, now: float) -> None:
        unit.window_start, unit.peak_rh, unit.drawdown_rh, unit.bucket = now, None, 0.0, (now, 0.0, 0)

    def _switch(self, unit: Unit, on: bool, now: float) -> bool:
        if on != unit.on:
            unit.on, unit.since = on, now
            if on:
                self._last_start = now
                self._new_window(unit, now)
            else:
                unit.last_run_end = now
        return on
