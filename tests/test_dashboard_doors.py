"""Doors on the dashboard, with real parts: Mosquitto, a gateway on the simulated world, the ingest and the
web app on one database. An admin gives badges and publishes; the gateway runs the document; people badge;
the access log shows why; the entry register (and its CSV) says who entered with whom and when they left,
complete after a broker outage; a remote unlock needs a reason and is audited."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest

from dashboard.app import create_app
from gateway.service import GatewayService
from hardware.broker import ensure_passwords
from hardware.clock import SimClock
from hardware.config import load
from hardware.door_world import DEMO_BADGES
from tests.support import add_user, csrf_token, login, wait_until, write_site
from tests.test_gateway_service import running

pytestmark = pytest.mark.slow
ROOM, DOOR = "east-stack", "entrance"
BADGE = {b.holder: b for b in DEMO_BADGES}


@pytest.fixture
def site(tmp_path):
    path = write_site(tmp_path, door_openings_per_hour=0.0)
    path.write_text(path.read_text().replace("badge_visits_per_hour = 6.0", "badge_visits_per_hour = 0.0"))
    site = load(path)
    ensure_passwords(site)
    return site


@pytest.fixture
def east(site, broker):
    service = GatewayService(site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port,
                             clock=SimClock(1))  # fmt: skip
    with running(service) as s:
        yield s


@pytest.fixture
def app(site, dashboard_ingest):
    for name, role in (("amy", "admin"), ("ada", "auditor"), ("fatima", "facilities"), ("kim", "keeper")):
        add_user(site.dashboard_database, name, role)
    return create_app(site, publish=dashboard_ingest.publish)


def client_for(app, name):
    client = app.test_client()
    login(client, name)
    return client


def post(client, page: str, action: str, data: dict):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def add_holder(admin, name: str, **more) -> None:
    data = {"id": name, "badges": BADGE[name].number, "rooms": ROOM, "hours": "any", "kind": "staff", **more}
    answer = post(admin, "/doors/permissions", "/doors/permissions/holder", data)
    assert answer.status_code == 302


def access_reasons(site) -> list[str]:
    with sqlite3.connect(site.dashboard_database) as db:
        rows = db.execute("SELECT json_extract(data, '$.reason') FROM events WHERE kind = 'access' ORDER BY ts")
        return [r[0] for r in rows]


def test_publish_badge_register_and_csv(site, app, east, broker):
    admin = client_for(app, "amy")
    for name in ("keeper", "archivist"):
        add_holder(admin, name)
    post(admin, "/doors/permissions", "/doors/permissions/room", {"room": ROOM, "two_person": "on", "window_s": "30"})
    post(admin, "/doors/permissions", "/doors/permissions/publish", {"publish": "1"})
    wait_until(lambda: east.doors.version == 1, timeout=30, what="the gateway to run version 1")
    assert east.doors.rules.rule(ROOM).two_person

    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    east.world.present_badge(ROOM, DOOR, BADGE["archivist"])
    east.world.present_badge(ROOM, DOOR, BADGE["stranger"])
    wait_until(lambda: len(access_reasons(site)) == 3, timeout=30, what="three decisions ingested")
    broker.stop()  # the pair leaves while the broker is down: the register must still close their entries
    east.world.press_exit(ROOM, DOOR)
    broker.start()
    wait_until(lambda: "exit_button" in access_reasons(site), timeout=60, what="the backlog ingested")

    keeper = client_for(app, "kim")
    doors = keeper.get("/doors/").get_data(as_text=True)
    for shown in ("等待第二人", "未知门卡"):  # waiting for a second person; unknown badge (Chinese by default)
        assert shown in doors
    auditor = client_for(app, "ada")
    table = list(
        csv.DictReader(io.StringIO(auditor.get("/doors/register.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert sorted((r["person"], r["with"], r["left_by"]) for r in table) == [
        ("archivist", "keeper", "exit_button"),
        ("keeper", "archivist", "exit_button"),
    ]
    assert all(r["entered"] < r["left"] for r in table)
    assert keeper.get("/doors/register.csv").status_code == 403  # exports are for auditors and admins
    with sqlite3.connect(site.dashboard_database) as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    assert {"access_holder_saved", "access_room_saved", "access_published", "entry_register_export"} <= set(actions)


def test_a_remote_unlock_needs_a_reason_and_is_audited(site, app, east):
    facilities = client_for(app, "fatima")
    post(facilities, "/doors/", f"/doors/{ROOM}/unlock", {"reason": "  "})
    post(facilities, "/doors/", f"/doors/{ROOM}/unlock", {"reason": "fire drill inspection"})
    wait_until(lambda: "remote_unlock" in access_reasons(site), timeout=30, what="the unlock logged")
    with sqlite3.connect(site.dashboard_database) as db:
        audited = db.execute("SELECT action, detail FROM audit WHERE action LIKE 'door_unlock%' ORDER BY id").fetchall()
    assert [a for a, _ in audited] == ["door_unlock_refused", "door_unlock"]
    assert "fire drill inspection" in audited[1][1]
    assert client_for(app, "kim").post(f"/doors/{ROOM}/unlock", data={"reason": "x"}).status_code in (400, 403)


def test_a_malformed_holder_is_refused_naming_the_field(app):
    admin = client_for(app, "amy")
    answer = post(admin, "/doors/permissions", "/doors/permissions/holder", {"id": "bad id!", "badges": "1:1"})
    assert answer.status_code == 302
    page = admin.get("/doors/permissions").get_data(as_text=True)
    assert "id:" in page


def test_disabling_a_user_refuses_their_badge_at_once_and_enabling_restores_it(site, app, east):
    """A staff holder is the dashboard user of the same name: disabling that user on the users page publishes
    a new document at once (no second step), the gateway refuses the badge as `user_disabled`, the access
    log on the dashboard says why, and both the change and the publication are audited."""
    add_user(site.dashboard_database, "keeper", "keeper")
    admin = client_for(app, "amy")
    add_holder(admin, "keeper")
    post(admin, "/doors/permissions", "/doors/permissions/publish", {"publish": "1"})
    wait_until(lambda: east.doors.version == 1, timeout=120, what="the gateway to run version 1")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    wait_until(lambda: access_reasons(site) == ["granted"], timeout=120, what="the first grant ingested")

    post(admin, "/admin/users", "/admin/users/keeper", {"action": "disable"})
    wait_until(lambda: east.doors.version == 2, timeout=120, what="the gateway to run version 2")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    wait_until(lambda: access_reasons(site)[1:], timeout=120, what="the refusal ingested")
    assert access_reasons(site) == ["granted", "user_disabled"]
    page = client_for(app, "fatima").get("/doors/").get_data(as_text=True)
    assert 'data-reason="user_disabled"' in page and "持卡人已停用" in page  # holder disabled
    permissions_page = admin.get("/doors/permissions").get_data(as_text=True)
    assert "随其仪表盘用户停用" in permissions_page  # disabled with their dashboard user

    post(admin, "/admin/users", "/admin/users/keeper", {"action": "enable"})
    wait_until(lambda: east.doors.version == 3, timeout=120, what="the gateway to run version 3")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    wait_until(lambda: access_reasons(site)[2:], timeout=120, what="the grant ingested")
    assert access_reasons(site) == ["granted", "user_disabled", "granted"]
    with sqlite3.connect(site.dashboard_database) as db:
        audited = db.execute(
            "SELECT action, object, json_extract(detail, '$.cause') FROM audit"
            " WHERE action IN ('user_disable', 'user_enable', 'access_published') ORDER BY id"
        ).fetchall()
    assert audited == [
        ("access_published", "doors/permissions", None),
        ("user_disable", "keeper", None),
        ("access_published", "doors/permissions", "user_disable:keeper"),
        ("user_enable", "keeper", None),
        ("access_published", "doors/permissions", "user_enable:keeper"),
    ]


def weekly(admin, rows: dict, **more):
    """Save the keeper with the holder form's weekly-hours rows (`w<row>_days`, `_start`, `_end`)."""
    data = {"id": "keeper", "badges": BADGE["keeper"].number, "rooms": ROOM, "kind": "staff", "hours": "weekly"}
    return post(admin, "/doors/permissions", "/doors/permissions/holder", {**data, **rows, **more})


def saved_windows(site) -> list[dict] | None:
    with sqlite3.connect(site.dashboard_database) as db:
        row = db.execute("SELECT grants FROM access_holders WHERE id = 'keeper'").fetchone()
    return None if row is None else [w for g in json.loads(row[0]) for w in g["windows"]]


def test_an_admin_sets_weekly_hours_per_permission_and_the_gateway_runs_them(site, app, east):
    admin = client_for(app, "amy")
    weekly(admin, {"w0_days": ["0", "2", "4"], "w0_start": "07:30", "w0_end": "12:00",
                   "w2_days": ["5"], "w2_start": "09:00", "w2_end": "24:00"})  # fmt: skip
    assert saved_windows(site) == [
        {"days": [0, 2, 4], "start": "07:30", "end": "12:00"},
        {"days": [5], "start": "09:00", "end": "24:00"},
    ]
    page = admin.get("/doors/permissions").get_data(as_text=True)
    assert "周一/周三/周五 07:30–12:00; 周六 09:00–24:00" in page
    post(admin, "/doors/permissions", "/doors/permissions/publish", {"publish": "1"})
    wait_until(lambda: east.doors.version == 1, timeout=120, what="the gateway to run version 1")
    (holder,) = east.doors.rules.document.holders
    assert [(w.days, w.start, w.end) for w in holder.grants[0].windows] == [
        ([0, 2, 4], "07:30", "12:00"),
        ([5], "09:00", "24:00"),
    ]


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ({"w1_start": "08:00", "w1_end": "12:00"}, "每周时段第 2 行：请至少选择一天"),
        ({"w0_days": ["1"], "w0_start": "8:00", "w0_end": "12:00"}, "每周时段第 1 行：“8:00”不是 00:00 至 24:00"),
        ({"w0_days": ["1"], "w0_start": "18:00", "w0_end": "08:00"}, "每周时段第 1 行：08:00 不晚于 18:00"),
        ({}, "每周时段：未填写"),
    ],
)
def test_weekly_hours_that_make_no_sense_are_refused_naming_the_row(site, app, rows, said):
    admin = client_for(app, "amy")
    weekly(admin, rows)
    assert said in admin.get("/doors/permissions").get_data(as_text=True)
    assert saved_windows(site) is None  # nothing saved


def test_disabling_a_user_on_the_command_line_reaches_the_doors_too(site, app, east, broker, tmp_path):
    """`storeroom dashboard user disable` publishes the next document through the broker itself (paho's one-shot
    publisher, as the dashboard account), so a disabled user's badge is refused without anyone pressing Publish;
    `user enable` gives it back."""
    from click.testing import CliRunner

    from storeroom.cli import main

    config = tmp_path / "cli-site.toml"  # the operator's config names the broker this test runs
    text = (tmp_path / "site.toml").read_text(encoding="utf-8")
    config.write_text(re.sub(r"^port = \d+", f"port = {broker.port}", text, count=1, flags=re.M), encoding="utf-8")
    add_user(site.dashboard_database, "keeper", "keeper")
    admin = client_for(app, "amy")
    add_holder(admin, "keeper")
    post(admin, "/doors/permissions", "/doors/permissions/publish", {"publish": "1"})
    wait_until(lambda: east.doors.version == 1, timeout=120, what="the gateway to run version 1")

    said = CliRunner().invoke(main, ["dashboard", "user", "disable", "keeper", "--config", str(config)])
    assert said.exit_code == 0, said.output
    assert "version 2 sent to the gateways" in said.output
    wait_until(lambda: east.doors.version == 2, timeout=120, what="the gateway to run version 2")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    wait_until(lambda: access_reasons(site), timeout=120, what="the refusal ingested")
    assert access_reasons(site) == ["user_disabled"]

    said = CliRunner().invoke(main, ["dashboard", "user", "enable", "keeper", "--config", str(config)])
    assert said.exit_code == 0, said.output
    wait_until(lambda: east.doors.version == 3, timeout=120, what="the gateway to run version 3")
    with sqlite3.connect(site.dashboard_database) as db:
        causes = [c for (c,) in db.execute("SELECT json_extract(detail, '$.cause') FROM audit WHERE action = "
                                           "'access_published' ORDER BY id")]  # fmt: skip
    assert causes == [None, "user_disable:keeper", "user_enable:keeper"]


def test_with_the_broker_away_the_command_line_says_the_badges_still_work(site, tmp_path):
    from click.testing import CliRunner

    from storeroom.cli import main
    from tests.support import free_port

    config = tmp_path / "cli-site.toml"
    text = (tmp_path / "site.toml").read_text(encoding="utf-8")
    config.write_text(re.sub(r"^port = \d+", f"port = {free_port()}", text, count=1, flags=re.M), encoding="utf-8")
    add_user(site.dashboard_database, "keeper", "keeper")
    app = create_app(site)
    add_user(site.dashboard_database, "amy", "admin")
    add_holder(client_for(app, "amy"), "keeper")

    said = CliRunner().invoke(main, ["dashboard", "user", "disable", "keeper", "--config", str(config)])
    assert said.exit_code == 1
    assert "kept but not sent" in said.output and "keeper's badges still work" in said.output
