"""Free space on the gateway's disk: a warning while it runs low, an alarm and no more pages once it is full.

A Pi keeps everything on one SD card: the outbox, the page upload queue and the pages the copy stands
write (10 to 30 MB each at 12 MP). Pages fill a card in days if the dashboard cannot take them; a full
card then fails the next page half-written, and SQLite's next outbox write with it. So the gateway
watches the free space where it writes, says so early (`disk_low`, a warning, below
`storage.warn_free_mb`), and below `storage.min_free_mb` raises `disk_full` and the copy stands take no
more pages: the keeper is told why on the station, a tethered camera's photos wait in its folder, and
the space left stays for the outbox, whose rows are small, so climate, doors and alarms go on.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.alarms import Alarms

log = logging.getLogger(__name__)

EVERY_S = 60.0
"""How often the free space is measured (a statvfs call: cheap, but nothing changes faster than pages)."""
FRESH_S = 5.0
"""A copy stand asking before a shot gets a measurement at most this old."""
DEVICE = "storage"


@dataclass(frozen=True)
class Space:
    path: Path
    """The watched folder with the least room."""
    free_mb: float


class DiskWatch:
    """The free space under `paths` (folders the gateway writes), judged against the two limits."""

    def __init__(
        self,
        paths: Iterable[Path],
        warn_mb: float,
        min_mb: float,
        alarms: Alarms,
        monotonic: Callable[[], float],
    ) -> None:
        self.paths = list(dict.fromkeys(Path(p) for p in paths))
        self.warn_mb, self.min_mb = warn_mb, min_mb
        self.alarms = alarms
        self.monotonic = monotonic
        self.last: Space | None = None
        self._at = float("-inf")
        self._lock = threading.Lock()  # the main loop and the copy stands' threads both ask

    def measure(self) -> Space:
        """The folder with the least free space now (a folder not made yet is judged by its parent)."""
        spaces = []
        for path in self.paths:
            where = path
            while not where.exists() and where.parent != where:
                where = where.parent
            spaces.append(Space(path, shutil.disk_usage(where).free / 2**20))
        return min(spaces, key=lambda s: s.free_mb)

    def check(self, every_s: float = EVERY_S) -> Space | None:
        """Measure if the last measurement is older than `every_s`; raise or clear the alarms. Never raises."""
        with self._lock:
            return self._check(every_s)

    def _check(self, every_s: float) -> Space | None:
        now = self.monotonic()
        if now - self._at < every_s and self.last is not None:
            return self.last
        try:
            space = self.measure()
        except OSError as exc:  # the disk itself failing: say so in the log, judge again next time
            log.error("cannot measure the free space of %s: %s", ", ".join(map(str, self.paths)), exc)
            return self.last
        self.last, self._at = space, now
        free = round(space.free_mb)
        data = {"free_mb": free, "path": os.fspath(space.path)}
        self.alarms.set(
            "disk_low",
            space.free_mb < self.warn_mb,
            device=DEVICE,
            severity="warning",
            message=f"{free} MB free on the disk of {space.path} (warning below {self.warn_mb:g} MB)",
            data={**data, "limit_mb": self.warn_mb},
        )
        self.alarms.set(
            "disk_full",
            space.free_mb < self.min_mb,
            device=DEVICE,
            severity="alarm",
            message=f"{free} MB free on the disk of {space.path}: the copy stands take no pages "
            f"below {self.min_mb:g} MB",
            data={**data, "limit_mb": self.min_mb},
        )
        return space

    def room_for_pages(self) -> str | None:
        """None while pages may be written; else why not, in words for the keeper's station and the log."""
        space = self.check(FRESH_S)
        if space is None or space.free_mb >= self.min_mb:
            return None
        return f"{space.free_mb:.0f} MB free on the gateway, pages need at least {self.min_mb:g} MB"
