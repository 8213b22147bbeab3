"""From a sensor's raw reads to a value the gateway can control by, with a state that never flatters it.

A DHT22 on a Pi fails a few reads in a hundred, now and then sends a valid-looking spike, and can hang
repeating one frame. The sampler copes with each:

- a failed read is tried again after `retry_after_s`, doubled per retry, up to `retries` times a cycle;
- reads outside the plausible ranges are refused;
- a read too far from the current value for the time since the last good read is a spike and refused,
  unless `confirm_reads` reads in a row agree on the new level (then it is real: a door left open);
- the value is the median of the last `median_of` good reads, so one odd read moves nothing;
- identical raw values for `stuck_after_s` mean the sensor has hung: failed, whatever it says;
- without a good read, the last value is kept with its age: degraded while young, stale (shown, not used for
  control) after `stale_after_s`, and withdrawn (failed) after `failed_after_s`.

A dead sensor therefore shows as failed within `failed_after_s`, and stops driving control within
`stale_after_s`: it never looks like a calm room.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from statistics import median

from hardware.clock import Clock
from hardware.config import Sensor
from sensors.climate import ClimateProbe, ClimateSample, ProbeError

log = logging.getLogger(__name__)

STUCK_MIN_READS = 10
"""A hung sensor needs at least this many identical reads, however long the interval."""


class _Refused(Exception):
    """A read that arrived but cannot be trusted; `retry` says whether reading again may help."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


class Sampler:
    """One sensor's sampling. Call `poll()` once `clock.monotonic()` reaches `next_due`.

    `poll` returns a sample when a cycle ends (a good read, or a failure after the retries) and None when it
    has scheduled a retry; either way `next_due` says when to call again. It never blocks and never raises
    for the sensor's failures, so one gateway loop can serve every sensor and its control.
    """

    def __init__(self, sensor: Sensor, probe: ClimateProbe, clock: Clock) -> None:
        self.sensor = sensor
        self.config = sensor.sampling
        self.probe = probe
        self.clock = clock
        self.next_due = clock.monotonic()
        self.counts: Counter[str] = Counter()
        """Outcomes of raw reads: read, failed, implausible, spike, stuck (for diagnostics and the bench)."""
        self._cycle_start: float | None = None
        self._attempt = 0
        self._good: deque[tuple[float, float]] = deque(maxlen=self.config.median_of)
        self._value: tuple[float, float] | None = None
        self._last_good_at: float | None = None
        self._jump: list[tuple[float, float]] = []
        self._same: tuple[float, float] | None = None
        self._same_since = 0.0
        self._same_reads = 0

    def poll(self) -> ClimateSample | None:
        now = self.clock.monotonic()
        if self._cycle_start is None:
            self._cycle_start, self._attempt = now, 0
        self.counts["read"] += 1
        try:
            temperature, humidity = self.probe.measure()
            self._accept(now, temperature + self.sensor.temperature_offset_c, humidity + self.sensor.humidity_offset_rh)
        except ProbeError as exc:
            self.counts["failed"] += 1
            return self._retry_or_fail(now, str(exc), retry=True)
        except _Refused as exc:
            log.info("sensor %s: %s", self.sensor.id, exc)
            return self._retry_or_fail(now, str(exc), retry=exc.retry)
        return self._finish(now, ClimateSample(*self._value, "ok"))  # type: ignore[misc]

    def close(self) -> None:
        self.probe.close()

    # -- judging a read -------------------------------------------------------------------------

    def _accept(self, now: float, temperature: float, humidity: float) -> None:
        """Take a read into the value, or raise _Refused saying why not."""
        c = self.config
        if not (c.plausible_c.low <= temperature <= c.plausible_c.high) or not (
            c.plausible_rh.low <= humidity <= c.plausible_rh.high
        ):
            self.counts["implausible"] += 1
            raise _Refused(f"implausible read {temperature:.1f} °C {humidity:.1f} % RH")
        self._check_stuck(now, (temperature, humidity))
        if self._value is not None and self._is_jump(now, temperature, humidity):
            self._jump.append((temperature, humidity))
            if len(self._jump) < c.confirm_reads or not self._jump_agrees():
                self.counts["spike"] += 1
                self._jump = self._jump[-(c.confirm_reads - 1) :] if c.confirm_reads > 1 else []
                t0, h0 = self._value
                raise _Refused(
                    f"spike refused: {temperature:.1f} °C {humidity:.1f} % RH against {t0:.1f} °C {h0:.1f} %"
                )
            self._good.clear()  # the new level is real: start the median afresh from it
            self._good.extend(self._jump)
        else:
            self._good.append((temperature, humidity))
        self._jump = []
        self._last_good_at = now
        self._value = (
            round(median(t for t, _ in self._good), 2),
            round(median(h for _, h in self._good), 2),
        )

    def _is_jump(self, now: float, temperature: float, humidity: float) -> bool:
        c = self.config
        minutes = (now - (self._last_good_at or now)) / 60.0
        t0, h0 = self._value  # type: ignore[misc]
        return (
            abs(temperature - t0) > c.max_step_c + c.max_rate_c_per_min * minutes
            or abs(humidity - h0) > c.max_step_rh + c.max_rate_rh_per_min * minutes
        )

    def _jump_agrees(self) -> bool:
        """The reads since the jump agree with each other (a new level, not a run of random spikes)."""
        temps, hums = [t for t, _ in self._jump], [h for _, h in self._jump]
        return max(temps) - min(temps) <= self.config.max_step_c and max(hums) - min(hums) <= self.config.max_step_rh

    def _check_stuck(self, now: float, raw: tuple[float, float]) -> None:
        if raw != self._same:
            self._same, self._same_since, self._same_reads = raw, now, 1
            return
        self._same_reads += 1
        minutes = (now - self._same_since) / 60.0
        if self._same_reads >= STUCK_MIN_READS and now - self._same_since >= self.config.stuck_after_s:
            self.counts["stuck"] += 1
            self._value, self._last_good_at = None, None  # a hung sensor's values are withdrawn at once
            self._good.clear()
            raise _Refused(f"the same values for {minutes:.0f} min: the sensor has stopped measuring", retry=False)

    # -- ending a cycle -------------------------------------------------------------------------

    def _retry_or_fail(self, now: float, error: str, *, retry: bool) -> ClimateSample | None:
        if retry and self._attempt < self.config.retries:
            self.next_due = now + self.config.retry_after_s * 2**self._attempt
            self._attempt += 1
            return None
        return self._finish(now, self._without_read(now, error))

    def _without_read(self, now: float, error: str) -> ClimateSample:
        """This cycle's sample when no read was good: the last value with its age, while it is worth showing."""
        if self._value is None or self._last_good_at is None:
            return ClimateSample(None, None, "failed", error)
        age = round(now - self._last_good_at, 1)
        if age <= self.config.stale_after_s:
            return ClimateSample(*self._value, "degraded", error, age)
        if age <= self.config.failed_after_s:
            return ClimateSample(*self._value, "stale", error, age)
        return ClimateSample(None, None, "failed", error, age)

    def _finish(self, now: float, sample: ClimateSample) -> ClimateSample:
        start = self._cycle_start if self._cycle_start is not None else now
        self.next_due = max(start + self.sensor.interval_s, now + self.config.retry_after_s)
        self._cycle_start = None
        return sample
