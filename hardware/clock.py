"""Clocks: real time on a Pi and in the demo, faster than real time in tests.

The gateway schedules its sampling and stamps its messages with a `Clock`, never with `time` directly,
so a simulated day can pass in seconds. Durations given to `sleep` and `wait` are in the clock's own
(simulated) seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds that never go backwards (for intervals)."""

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of this clock's time pass."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep `seconds` or until `event` is set; True if it was set."""


class WallClock:
    """Real time."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class SimClock:
    """Simulated time running `speed` times faster than the wall clock, from `start` (default: now).

    Sim time is `start + wall seconds elapsed × speed`, measured on the wall's monotonic clock so a wall
    clock being set (NTP at boot) cannot make it jump. `sleep` and `wait` take simulated seconds.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed
        self._origin_wall = time.monotonic()
        self._origin = time.time() if start is None else start

    def time(self) -> float:
        return self._origin + (time.monotonic() - self._origin_wall) * self.speed

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds) / self.speed)


class ManualClock:
    """Time that moves only when told to: deterministic unit tests.

    `sleep` and `wait` advance it instead of blocking, so code that sleeps runs at once; a loop on another
    thread that waits on it would spin, so use it where the test drives everything itself.
    """

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.time()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.advance(max(0.0, seconds))
        return event.is_set()
