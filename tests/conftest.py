"""Shared fixtures: a site config on disk in the test's folder, a real Mosquitto for it, Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from playwright.sync_api import Browser, expect, sync_playwright

from hardware.broker import Broker, ensure_passwords
from hardware.config import SiteConfig, load
from tests.support import SlowCard, write_site

# Property tests check what comes out, never how fast: a loaded CI machine must not fail them on time.
settings.register_profile("storeroom", deadline=None)
settings.load_profile("storeroom")
# Likewise what a page shows: `expect` waits up to 15 s (Playwright's 5 s by default) before it fails, a bound
# for a loaded machine, not a speed; a page that is right passes as soon as it is.
expect.set_options(timeout=15_000)


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


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium through Playwright (browsers cannot be downloaded here), one per test module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def slow_card(monkeypatch) -> Iterator[SlowCard]:
    """Page files written only when the test lets them (`hold`, `release`); never left held after the test."""
    card = SlowCard(monkeypatch)
    yield card
    card.release()
