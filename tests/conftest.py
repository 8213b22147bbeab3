"""Shared fixtures: a site config on disk in the test's folder, and a real Mosquitto for it."""

from __future__ import annotations

import pytest

from hardware.broker import Broker, ensure_passwords
from hardware.config import SiteConfig, load
from tests.support import write_site


@pytest.fixture
def site(tmp_path) -> SiteConfig:
    """The demo site with its storage (outboxes, database, broker files, secrets) in the test's folder."""
    site = load(write_site(tmp_path))
    ensure_passwords(site)
    return site


@pytest.fixture
def broker(site):
    """Mosquitto for `site` on a free loopback port, with the site's accounts and ACL; stopped afterwards."""
    with Broker(site, port=0) as running:
        running.start()
        yield running
