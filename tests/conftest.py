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


@pytest.fixture
def dashboard_ingest(site, broker):
    """The dashboard's ingest for `site` on the test's broker, subscribed; stopped afterwards."""
    from dashboard.ingest import Ingest

    running = Ingest(site, site.dashboard_database, broker.host, broker.port, "dashboard", broker.password("dashboard"))
    running.start()
    assert running.wait_ready(10)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.test_dashboard_page import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()
