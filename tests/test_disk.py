"""Free disk space on a gateway: a warning while it runs low, an alarm and no more pages once it is full.

Measured for real (statvfs of the test's own folder); the limits are set around what is free, so each
state can be reached on any machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.alarms import Alarms
from gateway.disk import DiskWatch
from gateway.service import GatewayService
from hardware.clock import SimClock
from hardware.config import ConfigError, load
from tests.support import wait_until, write_site
from tests.test_gateway_service import queued, running


def free_mb(path: Path) -> float:
    return shutil.disk_usage(path).free / 2**20


class Watch:
    def __init__(self, folder: Path, warn_mb: float, min_mb: float) -> None:
        self.events: list[dict] = []
        self.now = 0.0
        alarms = Alarms(lambda kind, **fields: self.events.append({"kind": kind, **fields}), lambda: self.now)
        self.disk = DiskWatch([folder / "outbox", folder / "pages"], warn_mb, min_mb, alarms, lambda: self.now)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e["kind"], e["severity"]) for e in self.events]


def test_plenty_of_room_raises_nothing_and_lets_pages_be_written(tmp_path):
    watch = Watch(tmp_path, warn_mb=0, min_mb=0)
    space = watch.disk.check()
    assert space is not None and space.free_mb > 0
    assert watch.disk.room_for_pages() is None
    assert watch.events == []


def test_running_low_is_a_warning_and_pages_still_go_on(tmp_path):
    watch = Watch(tmp_path, warn_mb=free_mb(tmp_path) + 10_000, min_mb=0)
    watch.disk.check()
    assert watch.kinds() == [("disk_low", "warning")]
    (low,) = watch.events
    assert low["device"] == "storage" and low["data"]["free_mb"] > 0 and str(tmp_path) in low["data"]["path"]
    assert watch.disk.room_for_pages() is None


def test_a_full_disk_is_an_alarm_and_says_why_no_page_is_taken(tmp_path):
    watch = Watch(tmp_path, warn_mb=free_mb(tmp_path) + 20_000, min_mb=free_mb(tmp_path) + 10_000)
    why = watch.disk.room_for_pages()
    assert why is not None and "MB free on the gateway" in why
    assert watch.kinds() == [("disk_low", "warning"), ("disk_full", "alarm")]
    watch.disk.check()
    assert len(watch.events) == 2, "raised once, not on every check"


def test_the_alarms_clear_once_there_is_room_again(tmp_path):
    watch = Watch(tmp_path, warn_mb=free_mb(tmp_path) + 20_000, min_mb=free_mb(tmp_path) + 10_000)
    watch.disk.check()
    watch.disk.warn_mb = watch.disk.min_mb = 0  # as if files were moved off the card
    watch.now += 60
    watch.disk.check()
    assert [(e["kind"], e["data"].get("cleared")) for e in watch.events[2:]] == [
        ("disk_low", True),
        ("disk_full", True),
    ]
    assert watch.disk.room_for_pages() is None


def test_the_space_is_measured_once_a_minute_and_afresh_before_a_page(tmp_path):
    watch = Watch(tmp_path, warn_mb=0, min_mb=0)
    first = watch.disk.check()
    watch.now += 30
    assert watch.disk.check() is first  # the main loop asks often; statvfs once a minute is enough
    watch.now += 6
    watch.disk.room_for_pages()
    assert watch.disk.last is not first  # a page is 10-30 MB: a stand asks for a fresh measurement


def test_the_limits_must_be_in_order(tmp_path):
    path = write_site(tmp_path / "site", warn_free_mb=100, min_free_mb=500)
    with pytest.raises(ConfigError, match="min_free_mb"):
        load(path)


def test_a_gateway_short_of_disk_raises_disk_full_and_goes_on_controlling(tmp_path):
    huge = free_mb(tmp_path) + 100_000
    site = load(write_site(tmp_path / "site", speed=200.0, warn_free_mb=huge, min_free_mb=huge))
    with running(GatewayService(site, "gw-east", password="unused", broker_port=1, clock=SimClock(200))) as east:
        (full,) = wait_until(lambda: queued(east, "event/disk_full"), timeout=120, what="the disk_full alarm")
        assert full["severity"] == "alarm" and full["data"]["limit_mb"] == pytest.approx(huge)
        assert queued(east, "event/disk_low")
        wait_until(lambda: len(queued(east, "telemetry")) >= 2, timeout=120, what="readings going on")
