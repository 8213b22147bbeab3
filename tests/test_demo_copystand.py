"""The demo's copy stand end to end, as a keeper and an archivist meet it.

A simulated keeper lays a dossier's tag on the stand's reader and shoots its pages; each page is
corrected on the gateway, shown on the station page, queued and uploaded, and an archivist sees the
pages on the dossier's page at the dashboard. The stand's camera is a 5 MP document camera over A6
pages here (the demo's own is a 12 MP camera over 16K pages): the same path, a quarter of the drawing.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request

import pytest
from playwright.sync_api import expect

from hardware.config import load
from tests.support import free_port, login_page, start_demo, wait_until, write_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-stand")
    path = write_site(folder, speed=20.0, port=free_port(), stand_sessions_per_hour=2.0)
    text = path.read_text(encoding="utf-8")
    text = text.replace('resolution = "12mp"', 'resolution = "5mp"').replace('page_size = "16K"', 'page_size = "A6"')
    path.write_text(text, encoding="utf-8")
    running = start_demo(folder, path)
    yield running
    running.kill()


def view(url: str) -> dict:
    """The station's view, or {} while the gateway is still starting."""
    try:
        with urllib.request.urlopen(url + "view.json", timeout=5) as response:
            return json.load(response)
    except OSError:
        return {}


def scanned(demo) -> list[tuple[str, int]]:
    """(dossier, pages) of the dossiers whose copy-stand session ended and whose manifest reached the dashboard."""
    site = load(demo.config_path)
    with sqlite3.connect(site.dashboard_database) as db:
        return db.execute("SELECT dossier, pages FROM dossier_scans").fetchall()


def test_the_simulated_keeper_digitizes_a_dossier_and_the_archivist_sees_its_pages(demo, chromium):
    station = demo.lines["Copy stand"].split()[0]
    first = wait_until(
        lambda: (last := view(station).get("last")) and last["access"] and last, timeout=240, what="a first page kept"
    )
    assert first["page"] == 1 and first["access"].endswith("0001.jpg")
    code, pages = wait_until(lambda: scanned(demo), timeout=300, what="a whole dossier at the dashboard")[0]
    assert pages >= 2

    context = chromium.new_context()
    page = context.new_page()
    login_page(page, demo.dashboard, "archivist", demo.passwords["archivist"])

    def uploaded() -> bool:
        listed = page.request.get(f"{demo.dashboard}api/dossiers/{code}/pages").json()["pages"]
        return len(listed) == pages and all(p["files"]["access"]["uploaded"] for p in listed)

    wait_until(uploaded, timeout=120, what="every page's files uploaded", every=1.0)
    page.goto(f"{demo.dashboard}dossiers/{code}/pages")
    thumbs = page.locator("main img")
    expect(thumbs).to_have_count(pages)
    assert all(thumbs.nth(i).evaluate("img => img.naturalWidth") > 0 for i in range(pages))
    pdf = page.request.get(f"{demo.dashboard}dossiers/{code}/pdf")
    assert (pdf.status, pdf.headers["content-type"]) == (200, "application/pdf"), "the dashboard makes the PDF"
    page.goto(f"{demo.dashboard}dossiers/{code}")
    expect(page.locator("#dossier-pages")).to_contain_text(f"已扫描 {pages} 页")
    context.close()
