"""The doors pages in Debian's Chromium over real HTTP: an admin gives a badge and publishes the permission
document through the forms, and it arrives signed and retained on the gateway's topic at a real broker;
the access log shows each decision's reason in the page's language; each door shows whether it is open,
whether its strike is locked (as a running gateway reports it), its fail mode and its alarms."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from gateway.service import GatewayService
from hardware.access_key import access_key
from hardware.broker import ensure_passwords
from hardware.clock import SimClock
from hardware.config import SiteConfig, load
from tests.support import add_user, login_page, wait_until, write_site
from tests.test_dashboard_page import WebServer, free_port
from tests.test_gateway_service import running

pytestmark = pytest.mark.browser
EAST = protocol.Topics("demo", "gw-east")
ROOM, DOOR = "east-stack", "entrance"


@pytest.fixture
def site(tmp_path) -> SiteConfig:
    """The demo site without simulated visitors: only the test moves the doors."""
    path = write_site(tmp_path, door_openings_per_hour=0.0)
    path.write_text(path.read_text().replace("badge_visits_per_hour = 6.0", "badge_visits_per_hour = 0.0"))
    site = load(path)
    ensure_passwords(site)
    return site


@pytest.fixture
def server(site, dashboard_ingest) -> Iterator[WebServer]:
    running = WebServer(create_app(site, publish=dashboard_ingest.publish), free_port()).start()
    add_user(site.dashboard_database, "amy", "admin")
    yield running
    running.stop()


@pytest.fixture
def page(chromium: Browser, server: WebServer) -> Iterator[Page]:
    context = chromium.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    login_page(opened, server.url, "amy")
    yield opened
    context.close()
    assert errors == [], "the page's script raised"


def retained(broker, topic: str) -> list[bytes]:
    """What a new subscriber gets at once on `topic`: the retained message, if any."""
    got: list[bytes] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"v-{uuid.uuid4().hex}")
    client.username_pw_set("viewer", broker.password("viewer"))
    client.on_message = lambda _c, _u, m: got.append(m.payload)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        wait_until(lambda: got, timeout=60, what=f"the retained message on {topic}")
    finally:
        client.loop_stop()
        client.disconnect()
    return got


def test_an_admin_gives_a_badge_and_publishes_it_to_the_gateway(site, server, page, broker):
    page.goto(server.url + "doors/permissions")
    expect(page.locator('[data-field="version"]')).to_contain_text("尚未发布")
    page.fill('input[name="id"]', "keeper")
    page.fill('input[name="name"]', "王芳")
    page.fill('input[name="badges"]', "12:1001")
    page.check('input[name="rooms"][value="east-stack"]')
    with page.expect_navigation():
        page.click('button[name="save_holder"]')
    expect(page.locator('[data-holder="keeper"]')).to_contain_text("12:1001")
    page.check('form.room-rule input[name="two_person"]')
    with page.expect_navigation():
        page.click('button[name="save_room"]')
    with page.expect_navigation():
        page.click('button[name="publish"]')
    expect(page.locator('[role="status"]')).to_contain_text("第 1 版已发送到各网关")
    expect(page.locator('[data-field="version"]')).to_contain_text("第 1 版")

    (payload,) = retained(broker, EAST.permissions)
    document = protocol.parse(EAST.permissions, payload).payload
    assert document.verify(access_key(site))
    assert document.version == 1 and document.rooms["east-stack"].two_person
    assert [(h.id, h.badges[0].number, h.grants[0].room) for h in document.holders] == [
        ("keeper", "12:1001", "east-stack")
    ]


def test_the_access_log_shows_why(site, server, page):
    with Store(site.dashboard_database) as store:
        for seq, (reason, granted) in enumerate([("outside_hours", False), ("granted", True)], start=1):
            event = protocol.Event(
                id=f"a{seq}", seq=seq, ts=protocol.utc_now(), kind="access", room="east-stack", device="entrance",
                data={"granted": granted, "reason": reason, "side": "outside", "holder": "keeper"},
            )  # fmt: skip
            store.ingest(EAST.event("access"), event.to_json())
    page.goto(server.url + "doors/")
    rows = page.locator("table.access-log tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('tr[data-reason="outside_hours"]')).to_contain_text("不在准入时段")
    expect(page.locator('tr[data-reason="granted"]')).to_contain_text("准许")
    expect(page.locator('table.doors tr[data-door="east-stack/entrance"]')).to_be_visible()


def lock_state(site) -> bool | None:
    """What the dashboard's database holds of the east stack entrance's lock."""
    with Store(site.dashboard_database, readonly=True) as store:
        row = store.db.execute("SELECT locked FROM devices WHERE room = ? AND device = ?", (ROOM, DOOR)).fetchone()
    return None if row is None or row[0] is None else bool(row[0])


def test_each_door_shows_its_lock_fail_mode_and_alarms_as_the_gateway_reports_them(site, server, page, broker):
    service = GatewayService(site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port,
                             clock=SimClock(1))  # fmt: skip
    with running(service) as east:
        door = page.locator(f'table.doors tr[data-door="{ROOM}/{DOOR}"]')
        wait_until(lambda: lock_state(site) is True, timeout=120, what="the birth's locked door ingested")
        page.goto(server.url + "doors/")
        expect(door.locator('[data-field="lock"]')).to_contain_text("已上锁")  # locked
        expect(door.locator('[data-field="fail-mode"]')).to_contain_text("断电闭锁")  # fail-secure
        expect(door.locator('[data-field="open"]')).to_contain_text("关")  # closed

        east.world.set_emergency(ROOM, DOOR, True)  # the fire panel frees the door until it is over
        wait_until(lambda: lock_state(site) is False, timeout=120, what="the strike's unlocking ingested")
        page.goto(server.url + "doors/")
        expect(door.locator('[data-field="lock"]')).to_contain_text("已开锁")  # unlocked
        expect(door.locator('[data-alarm="emergency_release"]')).to_contain_text("火警")  # fire alarm

        east.world.set_emergency(ROOM, DOOR, False)
        wait_until(lambda: lock_state(site) is True, timeout=120, what="the strike's locking ingested")
        page.goto(server.url + "doors/")
        expect(door.locator('[data-field="lock"]')).to_contain_text("已上锁")


def save_keeper_weekly(page, start: str, end: str) -> None:
    """The holder form as an admin fills it: the keeper's badge, the east stack, Monday and Tuesday from/to."""
    page.fill('input[name="id"]', "keeper")
    page.fill('input[name="badges"]', "12:1001")
    page.check('input[name="rooms"][value="east-stack"]')
    page.select_option('select[name="hours"]', "weekly")
    for day in ("0", "1"):
        page.check(f'input[name="w0_days"][value="{day}"]')
    page.fill('input[name="w0_start"]', start)
    page.fill('input[name="w0_end"]', end)
    with page.expect_navigation():
        page.click('button[name="save_holder"]')


def test_an_admin_sets_weekly_hours_through_the_form_and_a_wrong_row_is_named(server, page):
    page.goto(server.url + "doors/permissions")
    save_keeper_weekly(page, "09:00", "08:00")
    expect(page.locator('[role="status"]')).to_contain_text("每周时段第 1 行：08:00 不晚于 09:00")
    expect(page.locator('[data-holder="keeper"]')).to_have_count(0)
    save_keeper_weekly(page, "09:00", "17:30")
    expect(page.locator('[data-holder="keeper"] [data-field="windows"]')).to_have_text("周一/周二 09:00–17:30")


def test_changing_a_holder_starts_from_what_they_have_so_nothing_else_is_lost(server, page):
    page.goto(server.url + "doors/permissions")
    page.fill('input[name="valid_until"]', "2027-06-30")
    save_keeper_weekly(page, "09:00", "17:30")
    with page.expect_navigation():
        page.click('[data-holder="keeper"] [data-field="edit"]')
    expect(page.locator("#holder-form")).to_have_text("修改 keeper")
    expect(page.locator('input[name="badges"]')).to_have_value("12:1001")
    expect(page.locator('input[name="rooms"][value="east-stack"]')).to_be_checked()
    expect(page.locator('select[name="hours"]')).to_have_value("weekly")
    expect(page.locator('input[name="w0_days"][value="1"]')).to_be_checked()
    expect(page.locator('input[name="w0_end"]')).to_have_value("17:30")
    expect(page.locator('input[name="valid_until"]')).to_have_value("2027-06-30")
    page.fill('input[name="name"]', "王芳")  # the one thing the admin came to change
    with page.expect_navigation():
        page.click('button[name="save_holder"]')
    holder = page.locator('[data-holder="keeper"]')
    expect(holder).to_contain_text("王芳")
    expect(holder.locator('[data-field="windows"]')).to_have_text("周一/周二 09:00–17:30")
    expect(holder.locator("code")).to_have_text("12:1001")
    expect(holder).to_contain_text("→ 2027-06-30")


WEST_DOOR = """[[rooms.doors]]
id = "west-entrance"
contact_pin = 6

[rooms.doors.access]
exit_button_pin = 13

[rooms.doors.access.strike]
pin = 18
fail_mode = "fail-safe"

[[rooms.doors.access.readers]]
id = "west-out"
d0_pin = 20
d1_pin = 21
side = "outside"

"""


@pytest.fixture
def two_badge_doors(tmp_path, chromium: Browser) -> Iterator[tuple[WebServer, Page]]:
    """The demo site with a badge door on the west stack too: a holder's rooms can have hours of their own."""
    path = write_site(tmp_path, door_openings_per_hour=0.0)
    text = path.read_text()
    west_doors = text.index("[[rooms.doors]]", text.index('id = "west-stack"'))
    after = text.index("[[rooms]]", west_doors)
    path.write_text(text[:after] + WEST_DOOR + text[after:])
    site = load(path)
    running = WebServer(create_app(site), free_port()).start()
    add_user(site.dashboard_database, "amy", "admin")
    context = chromium.new_context()
    opened = context.new_page()
    login_page(opened, running.url, "amy")
    yield running, opened
    context.close()
    running.stop()


def test_each_room_of_a_holder_keeps_its_own_hours_and_can_be_taken_away(two_badge_doors):
    server, page = two_badge_doors
    page.goto(server.url + "doors/permissions")
    save_keeper_weekly(page, "09:00", "17:30")  # the east stack, Monday and Tuesday
    keeper = page.locator('[data-holder="keeper"]')

    # The west stack at any time, until the end of June: the east stack's hours are not touched.
    with page.expect_navigation():
        keeper.locator('[data-field="edit"]').click()
    page.uncheck('input[name="rooms"][value="east-stack"]')
    page.check('input[name="rooms"][value="west-stack"]')
    page.select_option('select[name="hours"]', "any")
    page.fill('input[name="valid_until"]', "2027-06-30")
    with page.expect_navigation():
        page.click('button[name="save_holder"]')
    expect(keeper.locator('[data-field="windows"]')).to_have_text("周一/周二 09:00–17:30")
    expect(keeper).to_contain_text("west-stack → 2027-06-30")

    # A room's link opens its own rule; the other room is listed as kept, and stays so after a save.
    with page.expect_navigation():
        keeper.locator('a[data-room="west-stack"]').click()
    expect(page.locator('select[name="hours"]')).to_have_value("any")
    expect(page.locator('input[name="rooms"][value="west-stack"]')).to_be_checked()
    expect(page.locator('input[name="rooms"][value="east-stack"]')).not_to_be_checked()
    expect(page.locator('[data-field="kept"]')).to_contain_text("east-stack (周一/周二 09:00–17:30)")
    page.fill('input[name="valid_until"]', "2027-12-31")
    with page.expect_navigation():
        page.click('button[name="save_holder"]')
    expect(keeper).to_contain_text("west-stack → 2027-12-31")
    expect(keeper.locator('[data-field="windows"]')).to_have_text("周一/周二 09:00–17:30")

    # Taking a room away is said outright.
    with page.expect_navigation():
        keeper.locator('[data-field="edit"]').click()
    page.check('input[name="remove"][value="west-stack"]')
    with page.expect_navigation():
        page.click('button[name="save_holder"]')
    expect(keeper.locator("a[data-room]")).to_have_text(["east-stack"])
    expect(keeper.locator('[data-field="windows"]')).to_have_text("周一/周二 09:00–17:30")
