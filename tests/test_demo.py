"""`storeroom demo`, as `make demo` runs it, seen by a person: a browser and mosquitto_sub.

The demo runs on a copy of the demo site with its clock 100 times faster, so values move within seconds.
The overview page is driven in Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from gateway import protocol
from hardware.config import load
from tests.support import free_port, login_page, start_demo, wait_until, write_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    running = start_demo(folder, write_site(folder, speed=100.0, interval_s=2.5, port=free_port()))
    yield running
    running.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def value(page: Page, room: str, field: str) -> str:
    return page.locator(f'[data-room="{room}"] [data-field="{field}"]').inner_text().strip()


def test_the_demo_prints_where_to_look(demo):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", demo.dashboard)
    assert re.fullmatch(r"mqtt://viewer:[^@]+@127\.0\.0\.1:\d+", demo.mqtt)


def test_the_demo_prints_and_serves_the_copy_stands_station_page(demo):
    url = demo.lines["Copy stand"].split()[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    view = json.loads(wait_until(lambda: _get(url + "view.json"), 30, "the station page"))
    assert view["stand"] == "stand" and view["pages"] == 0


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def test_the_demo_makes_one_user_per_role_and_shows_their_passwords_once(demo):
    assert set(demo.passwords) == {"keeper", "facilities", "archivist", "auditor", "admin"}


def test_the_overview_shows_both_rooms_with_live_values(demo, page):
    login_page(page, demo.dashboard, "facilities", demo.passwords["facilities"])
    page.goto(demo.dashboard)
    for room in ("east-stack", "west-stack"):
        expect(page.locator(f'[data-room="{room}"]')).to_be_visible()
        wait_until(lambda room=room: re.search(r"\d", value(page, room, "humidity")), what=f"{room} humidity")
        assert re.search(r"\d+(\.\d)?", value(page, room, "temperature"))
    first = value(page, "east-stack", "humidity"), value(page, "east-stack", "temperature")
    # Without reloading the page, the values move as the simulated room does.
    wait_until(
        lambda: (value(page, "east-stack", "humidity"), value(page, "east-stack", "temperature")) != first,
        timeout=30,
        what="the east stack's values to change on the page",
    )
    expect(page.get_by_text("gw-east").first).to_be_visible()


def test_anyone_can_watch_with_mosquitto_sub_and_the_printed_url(demo):
    url = urlparse(demo.mqtt)
    watched = subprocess.run(
        ["mosquitto_sub", "-h", url.hostname, "-p", str(url.port), "-u", url.username, "-P", url.password,
         "-t", "storeroom/#", "-C", "3", "-W", "20", "-v"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert watched.returncode == 0, watched.stderr
    assert "storeroom/demo/" in watched.stdout


def test_facilities_acknowledge_an_alert_with_a_comment(demo, page):
    # A gateway reports a failing sensor (published with its own account, as its daemon would).
    secrets = load(demo.config_path).storage.secrets
    url = urlparse(demo.mqtt)
    event = protocol.Event(
        id="test-alarm", seq=10_000_000, ts=protocol.utc_now(), kind="device_error", severity="warning",
        room="east-stack", device="dht-9", message="DHT sensor not found, check wiring",
    )  # fmt: skip
    subprocess.run(
        ["mosquitto_pub", "-h", url.hostname, "-p", str(url.port), "-u", "gw-east",
         "-P", (secrets / "gw-east.password").read_text().strip(), "-q", "1",
         "-t", "storeroom/demo/gw-east/event/device_error", "-m", event.to_json().decode()],
        check=True, timeout=20,
    )  # fmt: skip
    login_page(page, demo.dashboard, "facilities", demo.passwords["facilities"])
    page.goto(demo.dashboard + "alerts/")
    row = page.locator("#active-alerts tr", has_text="DHT sensor not found")
    expect(row).to_be_visible()
    row.locator('input[name="comment"]').fill("cable reseated 已重新插好")
    row.get_by_role("button", name="确认").click()
    expect(page.locator("#active-alerts tr", has_text="DHT sensor not found")).to_contain_text(
        "cable reseated 已重新插好"
    )


def test_facilities_change_a_band_and_see_the_gateway_apply_it(demo, page):
    login_page(page, demo.dashboard, "facilities", demo.passwords["facilities"])
    page.goto(demo.dashboard + "rooms/west-stack")
    page.fill('input[name="low"]', "46")
    page.fill('input[name="high"]', "57")
    with page.expect_navigation():  # the form posts, then the page comes back with the command pending
        page.get_by_role("button", name="发送到网关").click()

    def applied() -> bool:
        page.reload()
        return "已执行" in page.locator("table.commands").inner_text()

    wait_until(applied, what="the gateway to apply the band")
    expect(page.locator('[data-field="band"]')).to_contain_text("46.0–57.0 % RH")
    # The same page shows the room's sensors with their state, its dehumidifier's run time and the metrics.
    expect(page.locator('table.sensors tr[data-sensor="dht-1"] [data-field="state"]')).to_have_text("正常")
    expect(page.locator('li[data-relay="dehum-1"]')).to_contain_text("最近 24 小时运行")
    expect(page.locator("table.metrics")).to_contain_text("时间加权保存指数")
    expect(page.get_by_role("button", name="发送手动控制")).to_be_visible()


def test_a_keepers_scans_at_the_shelves_and_the_desk_appear_on_the_scans_page(demo, page):
    login_page(page, demo.dashboard, "keeper", demo.passwords["keeper"])

    def scanned() -> set[str]:
        page.goto(demo.dashboard + "scans/")
        rows = page.locator("table.scans tbody tr.valid").all_inner_texts()
        return {where for where in ("east-stack/shelf-1", "east-stack/door", "desk") if any(where in r for r in rows)}

    seen = wait_until(
        lambda: (found := scanned()) >= {"desk"} and len(found) >= 2 and found, what="scans at two readers"
    )
    assert "desk" in seen
    expect(page.locator("table.scans")).to_contain_text("DA-2026-")
    assert page.locator("table.scans tr.unknown").count() == 0  # the demo's register knows its dossiers


def test_pairs_go_in_by_badge_and_a_refusal_says_why_on_the_doors_page(demo, page):
    login_page(page, demo.dashboard, "keeper", demo.passwords["keeper"])

    def log() -> list[str]:
        page.goto(demo.dashboard + "doors/")
        return page.locator("table.access-log tbody tr.granted, table.access-log tbody tr.refused").all_inner_texts()

    def seen() -> bool:
        rows = log()
        return any(" + " in r and "准许" in r for r in rows) and any("等待第二人" in r for r in rows)

    wait_until(seen, timeout=120, every=2, what="a pair let in and a badge waiting for its second person")
    page.goto(demo.dashboard + "doors/register")
    expect(page.locator("table.register tbody tr[data-person]").first).to_be_visible()


def test_a_keeper_is_refused_the_admin_pages(demo, page):
    login_page(page, demo.dashboard, "keeper", demo.passwords["keeper"])
    for path in ("admin/users", "audit/"):
        answer = page.goto(demo.dashboard + path)
        assert answer.status == 403
    assert page.locator("nav.account").get_by_text("用户", exact=True).count() == 0


def test_the_overview_fits_a_phone(demo, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        login_page(phone, demo.dashboard, "keeper", demo.passwords["keeper"])
        phone.goto(demo.dashboard)
        expect(phone.locator('[data-room="east-stack"]')).to_be_visible()
        # Nothing wider than the screen: no sideways scrolling at a shelf.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_the_simulated_keeper_takes_stock_and_checks_out_the_demos_approved_loan(demo, page):
    login_page(page, demo.dashboard, "keeper", demo.passwords["keeper"])

    def misplaced() -> bool:  # the demo storeroom's dossier 6 lies on dossier 1's shelf (hardware/shelving.py)
        page.goto(demo.dashboard + "stocktakes/1")
        return page.locator('tr.misplaced[data-code="DA-2026-00006"]').count() == 1

    wait_until(misplaced, timeout=120, every=2, what="the demo's stocktake to find its misplaced dossier")

    def taken() -> bool:
        page.goto(demo.dashboard + "loans/")
        return page.locator('li[data-code="DA-2026-00002"]').get_attribute("data-state") in ("out", "returned")

    wait_until(taken, timeout=120, every=2, what="the keeper to check out the approved loan at the desk")


def test_ctrl_c_stops_everything_and_leaves_no_process(demo):
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(30) == 0
    left = subprocess.run(["pgrep", "-f", str(demo.config_path.parent)], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left behind: {left.stdout}"
