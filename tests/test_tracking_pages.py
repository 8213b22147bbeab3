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


@pytest.fixture
def simulated_site(tmp_path):
    """The demo site with a broker and its dashboard ingest running, and no simulated keeper of its own."""
    from hardware.broker import Broker, ensure_passwords
    from hardware.config import load
    from tests.support import write_site

    path = write_site(tmp_path / "sim", speed=1.0)
    path.write_text(path.read_text().replace("tag_scans_per_hour = 20.0", "tag_scans_per_hour = 0.0"))
    site = load(path)
    ensure_passwords(site)
    with Broker(site, port=0) as broker:
        broker.start()
        yield site, broker


def test_a_stocktake_on_the_simulated_storeroom_finds_the_planted_missing_and_misplaced_dossiers(
    browser, simulated_site
):
    from dashboard.ingest import Ingest
    from dashboard.locations import Locations
    from dashboard.register import import_csv
    from dashboard.users import connect
    from gateway.service import GatewayService
    from hardware.clock import SimClock, WallClock
    from hardware.shelving import Shelving
    from rfid.keys import signing_key
    from rfid.sim_keeper import DOSSIERS, SimulatedKeeper
    from storeroom.demo import demo_register
    from tests.test_gateway_service import running

    site, broker = simulated_site
    conn = connect(site.dashboard_database, migrate_schema=True)
    import_csv(conn, demo_register(site), "demo register", locations=Locations(site))
    conn.close()
    add_user(site.dashboard_database, "kim", "keeper")
    ingest = Ingest(site, site.dashboard_database, host=broker.host, port=broker.port, username="dashboard",
                    password=broker.password("dashboard"))  # fmt: skip
    ingest.start()
    assert ingest.wait_ready(10)
    web = WebServer(create_app(site), free_port()).start()
    # Real time: the stocktake compares the scans' time stamps with when it started.
    east = GatewayService(site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port,
                          clock=SimClock(1))  # fmt: skip
    try:
        with running(east):
            shelving = Shelving(site, DOSSIERS)  # dossiers 1-4 live on east-stack/r1-A-1-1, 5-8 on r1-A-1-2
            shelving.move(6, "east-stack/r1-A-1-1")  # put back on the wrong shelf
            shelving.remove(3)  # gone
            keeper = SimulatedKeeper(east.readers, WallClock(), *signing_key(site), 0, "test keeper",
                                     shelving=shelving, stations=["east-shelf"])  # fmt: skip

            page = tab(browser, web, "kim")
            page.get_by_role("link", name="盘点").click()
            page.get_by_label("盘点范围").select_option("east-stack/r1")
            with page.expect_navigation():
                page.get_by_role("button", name="开始盘点").click()
            assert keeper.take_stock("east-stack/r1-A-1-1") == [
                "east-stack/r1-A-1-1", "DA-2026-00001", "DA-2026-00002", "DA-2026-00004", "DA-2026-00006"
            ]  # fmt: skip
            for _ in range(20):  # the page refreshes itself every 15 s; a keeper would wait, the test reloads
                page.reload()
                if page.locator('[data-field="misplaced"]').text_content() == "1":
                    break
                page.wait_for_timeout(500)
            expect(page.locator('[data-field="misplaced"]')).to_have_text("1")
            expect(page.locator('tr.misplaced[data-code="DA-2026-00006"]')).to_contain_text("east-stack/r1-A-1-2")
            expect(page.locator('tr.missing[data-code="DA-2026-00003"]')).to_be_visible()
            expect(page.locator('[data-field="found"]')).to_have_text("3")
            expect(page.locator('[data-field="missing"]')).to_have_text("1")
            with page.expect_navigation():
                page.get_by_role("button", name="结束盘点").click()
            expect(page.get_by_role("status")).to_contain_text("盘点已结束")
    finally:
        web.stop()
        ingest.stop()


def test_a_request_for_ones_own_dossier_is_refused_and_an_approved_one_is_checked_out_at_the_desk(
    browser, simulated_site
):
    from dashboard import relations
    from dashboard.ingest import Ingest
    from dashboard.locations import Locations
    from dashboard.register import import_csv
    from dashboard.users import Users, connect
    from gateway.service import GatewayService
    from hardware.clock import SimClock, WallClock
    from rfid.keys import signing_key
    from rfid.sim_keeper import SimulatedKeeper
    from storeroom.demo import demo_register
    from tests.support import wait_until
    from tests.test_gateway_service import running

    site, broker = simulated_site
    conn = connect(site.dashboard_database, migrate_schema=True)
    import_csv(conn, demo_register(site), "demo register", locations=Locations(site))
    add_user(site.dashboard_database, "kim", "keeper")
    add_user(site.dashboard_database, "ann", "archivist")
    relations.link(conn, user_id=Users(conn).get("kim").id, code="DA-2026-00001", relation="self", by="test")
    conn.close()
    ingest = Ingest(site, site.dashboard_database, host=broker.host, port=broker.port, username="dashboard",
                    password=broker.password("dashboard"))  # fmt: skip
    ingest.start()
    assert ingest.wait_ready(10)
    web = WebServer(create_app(site, publish=ingest.publish), free_port()).start()
    west = GatewayService(site, "gw-west", password=broker.password("gw-west"), broker_port=broker.port,
                          clock=SimClock(1))  # fmt: skip
    try:
        with running(west):
            kim = tab(browser, web, "kim")
            kim.get_by_role("link", name="借阅").click()
            kim.get_by_label("档号").fill("DA-2026-00001")
            kim.get_by_label("用途").fill("职称评审")
            with kim.expect_navigation():
                kim.get_by_role("button", name="申请", exact=True).click()
            expect(kim.get_by_role("status")).to_contain_text("申请被拒绝：nobody may request their own dossier")
            kim.get_by_label("档号").fill("DA-2026-00002")
            kim.get_by_label("用途").fill("职称评审")
            with kim.expect_navigation():
                kim.get_by_role("button", name="申请", exact=True).click()
            expect(kim.get_by_role("status")).to_contain_text("申请 1 已提交")

            ann = tab(browser, web, "ann")
            ann.goto(web.url + "loans/")
            with ann.expect_navigation():
                ann.get_by_role("button", name="批准").click()
            expect(ann.get_by_role("status")).to_contain_text("申请 1 已批准")

            wait_until(lambda: "DA-2026-00002" in west.loan_desk.grants(), timeout=20, what="the loans at the desk")
            keeper = SimulatedKeeper(west.readers, WallClock(), *signing_key(site), 0, "test keeper", desks=["desk"])
            assert keeper.at_desk("DA-2026-00002")
            item = kim.locator('li[data-code="DA-2026-00002"]')
            for _ in range(40):
                kim.reload()
                if item.get_attribute("data-state") == "out":
                    break
                kim.wait_for_timeout(250)
            expect(item).to_have_attribute("data-state", "out")
            expect(item).to_contain_text("已借出")
            ann.goto(web.url + "dossiers/DA-2026-00002")
            expect(ann.locator('[data-field="state"]')).to_contain_text("借出")
            expect(ann.locator('[data-field="borrower"]')).to_have_text("kim")
    finally:
        web.stop()
        ingest.stop()
