"""The overview page in Debian's Chromium, served by waitress over real HTTP from a real SQLite file:
values change on the page without a reload, a reading that grows old is shown stale, and the page rides
out the server going away and coming back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from waitress import create_server

from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from tests.support import add_user, free_port, login_page, send_reading

pytestmark = pytest.mark.browser

EAST = protocol.Topics("demo", "gw-east")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class WebServer:
    """The app under waitress in a thread, on a fixed port so it can be stopped and started again."""

    def __init__(self, app, port: int) -> None:
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}/"
        self._server = None
        self._sockets: dict = {}  # waitress's socket map: the listener and every open connection
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> WebServer:
        self._sockets = {}
        self._server = create_server(self.app, map=self._sockets, host="127.0.0.1", port=self.port, threads=2)
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self._server.run()
        except OSError:  # its sockets closed under its select(), as `stop` does on purpose
            if not self._stopping:
                raise

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._stopping = True
        self._server.task_dispatcher.shutdown()
        # The listener and the open keep-alive connections, as when the server process dies.
        for channel in list(self._sockets.values()):
            channel.close()
        self._thread.join(5)


@pytest.fixture
def server(site, tmp_path) -> Iterator[WebServer]:
    running = WebServer(create_app(site, database=tmp_path / "dashboard.db"), free_port()).start()
    add_user(tmp_path / "dashboard.db", "fatima", "facilities")
    yield running
    running.stop()


@pytest.fixture
def store(server) -> Iterator[Store]:
    with Store(server.app.config["DATABASE"]) as opened:
        yield opened


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: WebServer) -> Iterator[Page]:
    """A browser tab of facilities staff, logged in."""
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    login_page(opened, server.url, "fatima")
    yield opened
    context.close()
    assert errors == [], "the page's script raised"


def field(page: Page, room: str, name: str):
    return page.locator(f'[data-room="{room}"] [data-field="{name}"]')


def test_values_change_on_the_page_without_a_reload(server, store, page):
    send_reading(store, 1, 55.0)
    page.goto(server.url)
    expect(field(page, "east-stack", "humidity")).to_have_text("55.0")
    page.evaluate("window.notReloaded = true")

    send_reading(store, 2, 61.4)
    relay = protocol.Event(id="e3", seq=3, ts=protocol.utc_now(), kind="relay", room="east-stack", device="dehum-1",
                           data={"on": True, "kind": "dehumidifier"})  # fmt: skip
    store.ingest(EAST.event("relay"), relay.to_json())
    store.ingest(EAST.status, protocol.Status(state="online", session=1).to_json())

    expect(field(page, "east-stack", "humidity")).to_have_text("61.4", timeout=10_000)
    expect(field(page, "east-stack", "relay")).to_have_text("运行")
    expect(page.locator('[data-gateway="gw-east"] [data-field="state"]')).to_have_text("在线")
    expect(page.locator('[data-gateway="gw-east"] [data-field="last_seq"]')).to_have_text("3")
    expect(page.locator("body")).to_have_attribute("data-live", "true")

    store.ingest(EAST.telemetry("east-stack", "dht-1"), b"<b>not json</b>")
    expect(page.locator('#refused [data-reason="not_json"]')).to_have_text("not_json: 1", timeout=10_000)
    expect(page.locator("#rejects")).to_contain_text("<b>not json</b>")  # shown as text, not markup
    assert page.evaluate("window.notReloaded") is True


def test_a_reading_that_grows_old_is_shown_stale(server, store, page, site):
    send_reading(store, 1, 55.0, age_s=site.dashboard.stale_after_s - 2)
    page.goto(server.url)
    card = page.locator('[data-room="east-stack"]')
    expect(card).to_have_attribute("data-stale", "false")
    expect(card.get_by_text("数据过期")).to_be_hidden()
    # No new message: the page's next polls see the same reading cross the limit.
    expect(card).to_have_attribute("data-stale", "true", timeout=10_000)
    expect(card.get_by_text("数据过期")).to_be_visible()


def test_gaps_in_seq_are_shown_with_the_gateway(server, store, page):
    page.goto(server.url)
    for seq in (1, 2, 7):
        send_reading(store, seq, 50.0)
    gaps = page.locator('[data-gateway="gw-east"] [data-field="gaps"]')
    expect(gaps).to_have_text("3–6 (4)", timeout=10_000)
    for seq in (3, 4, 5, 6):
        send_reading(store, seq, 50.0)
    expect(gaps).to_have_text("无", timeout=10_000)


def test_the_page_rides_out_the_server_going_away_and_coming_back(server, store, page):
    send_reading(store, 1, 55.0)
    page.goto(server.url)
    expect(page.locator("body")).to_have_attribute("data-live", "true", timeout=10_000)

    server.stop()
    expect(page.locator("body")).to_have_attribute("data-live", "false", timeout=10_000)
    expect(field(page, "east-stack", "humidity")).to_have_text("55.0")  # the last values stay

    send_reading(store, 2, 48.2)
    server.start()
    expect(page.locator("body")).to_have_attribute("data-live", "true", timeout=10_000)
    expect(field(page, "east-stack", "humidity")).to_have_text("48.2")


def test_the_room_page_charts_a_day_of_readings_with_the_target_band(server, store, page):
    for seq in range(1, 289):  # a reading every 5 minutes for the last 24 h, humidity swinging 50-62 %
        send_reading(store, seq, humidity=56 + 6 * ((seq % 24) / 12 - 1), age_s=(288 - seq) * 300)
    page.goto(server.url + "rooms/east-stack")
    status = page.locator('[data-field="chart-status"]')
    expect(status).to_contain_text("个点")
    assert page.locator("#humidity-chart canvas").count() == 1
    assert page.locator("#temperature-chart canvas").count() == 1
    # The band is drawn as two more series beside the humidity.
    legend = page.locator("#humidity-chart .u-legend").inner_text()
    assert "下限" in legend and "上限" in legend
    page.click('button[data-period="7d"]')
    expect(page.locator('button[data-period="7d"]')).to_have_attribute("aria-pressed", "true")
    expect(status).to_contain_text("个点")
    page.screenshot(path=str(server.app.config["DATABASE"].with_name("room.png")), full_page=True)


def test_the_room_page_values_change_without_a_reload(server, store, page):
    send_reading(store, 1, humidity=55.0)
    page.goto(server.url + "rooms/east-stack")
    humidity = page.locator('section[data-room="east-stack"] [data-field="humidity"]')
    expect(humidity).to_have_text("55.0")
    send_reading(store, 2, humidity=61.5)
    expect(humidity).to_have_text("61.5", timeout=15_000)
