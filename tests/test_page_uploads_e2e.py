"""Dossier pages the whole way: the gateway service (on the simulated world) queues them, its outbox and
link carry the `page` events through a real Mosquitto to the dashboard's ingest, and its uploader sends
the files over HTTP to the dashboard under waitress; with the broker and the dashboard both down for a
while in the middle. Also the command line that shows what waits."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from dashboard.app import create_app
from dashboard.ingest import Ingest
from dashboard.page_files import PageFiles
from gateway.service import GatewayService
from hardware.clock import SimClock
from hardware.config import ConfigError, from_dict, load
from tests.page_support import DOSSIER, copy_dossier, entry
from tests.proxy import Proxy
from tests.support import wait_until
from tests.test_dashboard_page import WebServer, free_port
from tests.test_gateway_service import running
from tests.test_page_uploads import files_of, made  # noqa: F401  (made: the session's dossier)

pytestmark = pytest.mark.slow


def stored(site, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{site.dashboard_database}?mode=ro", uri=True, timeout=5) as db:
        return db.execute(sql).fetchall()


def test_pages_reach_the_dashboard_through_an_outage_of_broker_and_dashboard(site, broker, made, tmp_path):  # noqa: F811
    web = WebServer(create_app(site), free_port()).start()
    proxy = Proxy(web.port)
    pages = site.pages.model_copy(
        update={"upload_url": proxy.url, "retry_s": 0.05, "retry_max_s": 0.5, "chunk_kib": 64}
    )
    site = site.model_copy(update={"pages": pages})
    ingest = Ingest(
        site, site.dashboard_database, host=broker.host, port=broker.port, username="dashboard",
        password=broker.password("dashboard"),
    )  # fmt: skip
    ingest.start()
    assert ingest.wait_ready(10)
    root = copy_dossier(made, tmp_path / "stand")
    service = GatewayService(site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port,
                             clock=SimClock(50))  # fmt: skip
    try:
        with running(service):
            assert service.link.wait_connected(10)
            proxy.delay_s = 0.01
            service.uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
            wait_until(lambda: service.uploads.stats.bytes_sent > 0, what="the upload under way")
            broker.stop()
            proxy.down()
            web.stop()
            service.uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 2))  # queued while all is down
            service.uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 3))
            service.uploads.submit_dossier(root, DOSSIER)
            wait_until(lambda: service.uploads.stats.retries >= 2, what="the uploader retrying")
            listing = subprocess.run(
                [sys.executable, "-m", "storeroom", "gateway", "uploads", "--config", str(site.source),
                 "--gateway", "gw-east"],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            assert f"{DOSSIER} page 3 master 0003.tif" in listing.stdout
            assert "file(s) waiting" in listing.stdout
            assert "time(s); last: " in listing.stdout and "ConnectionError" in listing.stdout
            broker.start()
            web.start()
            proxy.delay_s = 0.0
            proxy.up()
            wait_until(lambda: not service.uploads.pending(), timeout=90, what="every file at the dashboard")
            wait_until(lambda: len(stored(site, "SELECT page FROM pages")) == 3, what="the three page events")
            wait_until(lambda: stored(site, "SELECT pages FROM dossier_scans") == [(3,)], what="the session's end")
    finally:
        ingest.stop()
        proxy.close()
        web.stop()
    files = PageFiles(site.pages_store)
    assert all(files.has(sha) for sha in files_of(root))
    assert stored(site, "SELECT count(*) FROM events WHERE kind = 'page'") == [(3,)], "each page once"
    assert stored(site, "SELECT count(*) FROM gaps") == [(0,)]


def test_the_upload_url_is_validated_where_it_enters(site):
    raw = {"site": {"id": "s", "name": "S"}, "hardware": {"backend": "sim"}, "storage": {"dir": "/tmp/x"},
           "gateways": [{"id": "g"}], "rooms": [{"id": "r", "name": "R", "gateway": "g"}]}  # fmt: skip
    assert from_dict(raw, site.source).upload_url == "http://127.0.0.1:8080"
    good = from_dict({**raw, "pages": {"upload_url": "https://archive.example.org:8443/"}}, site.source)
    assert good.upload_url == "https://archive.example.org:8443"
    for bad in ("ftp://archive", "archive.example.org", "http://x/ y"):
        with pytest.raises(ConfigError, match=r"pages\.upload_url: must be an http"):
            from_dict({**raw, "pages": {"upload_url": bad}}, site.source)
    with pytest.raises(ConfigError, match=r"pages\.chunk_kib"):
        from_dict({**raw, "pages": {"chunk_kib": 1}}, site.source)
    assert load(site.source).pages_store == site.storage.dir / "dashboard-pages"


def test_the_gateway_refuses_a_bad_dashboard_url_on_its_command_line(site):
    answer = subprocess.run(
        [sys.executable, "-m", "storeroom", "gateway", "run", "--config", str(site.source), "--gateway", "gw-east",
         "--dashboard", "ftp://nowhere"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert answer.returncode == 2
    assert "--dashboard" in answer.stderr and "must be an http" in answer.stderr


def test_the_queue_listing_says_when_nothing_waits(site):
    answer = subprocess.run(
        [sys.executable, "-m", "storeroom", "gateway", "uploads", "--config", str(site.source), "--gateway", "gw-east"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "gw-east: 0 file(s) waiting" in answer.stdout
