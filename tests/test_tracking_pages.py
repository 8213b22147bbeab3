"""Dossier tracking in Debian's Chromium, over real HTTP from a real SQLite file: an archivist finds a dossier by
its pinyin initials through the suggestions while typing and sees its shelf on the room's floor plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dashboard.app import create_app
from tests.support import add_user, login_page
from tests.test_dashboard_page import CHROMIUM_ARGS, WebServer, free_port
from tests.tracking_support import import_register

pytestmark = pytest.mark.browser


@pytest.fixture
def server(site, tmp_path) -> Iterator[WebServer]:
    database = tmp_path / "dashboard.db"
    running = WebServer(create_app(site, database=database), free_port()).start()
    import_register(site, database)
    for name, role in (("ann", "archivist"), ("kim", "keeper")):
        add_user(database, name, role)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def tab(browser: Browser, server: WebServer, user: str) -> Page:
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: pytest.fail(f"the page's script raised: {error}"))
    login_page(page, server.url, user)
    return page


def test_an_archivist_finds_a_dossier_by_pinyin_initials_and_sees_its_shelf_on_the_plan(browser, server):
    page = tab(browser, server, "ann")
    page.get_by_role("link", name="档案").click()
    page.get_by_label("档号、姓名、拼音或任一著录项").press_sequentially("zs", delay=50)
    suggestion = page.locator("#suggestions a[data-code='DA-2026-00001']")
    expect(suggestion).to_contain_text("张三")
    with page.expect_navigation():
        suggestion.click()
    expect(page.locator("h2")).to_have_text("DA-2026-00001 · 张三")
    expect(page.locator('[data-field="state"]')).to_have_text("在架")
    shelf = page.locator('svg.floorplan rect.home[data-shelf="east-stack/r1-A-1-1"]')
    expect(shelf).to_be_visible()
    expect(page.locator("svg.floorplan")).to_have_attribute("data-room", "east-stack")
    expect(page.locator("#dossier-pages")).to_be_attached()


def test_the_search_form_finds_by_full_pinyin_with_a_typo(browser, server):
    page = tab(browser, server, "kim")
    page.goto(server.url + "dossiers/")
    page.get_by_label("档号、姓名、拼音或任一著录项").fill("zhnagsan")
    with page.expect_navigation():
        page.get_by_role("button", name="搜索").click()
    row = page.locator("table.dossiers tr[data-code='DA-2026-00001']")
    expect(row).to_contain_text("相近写法")
