"""`storeroom dashboard report`: the daily or weekly report as an e-mail in the recipient's language, written
to a file or sent to a real SMTP server (aiosmtpd) run by the test."""

from __future__ import annotations

import email
import sqlite3
from datetime import datetime
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from dashboard import alerts
from dashboard.store import Store
from dashboard.users import Users, connect
from gateway import protocol
from storeroom.cli import main
from tests.support import add_user, free_port

EAST = protocol.Topics("demo", "gw-east")


def storeroom(*args: str):
    return CliRunner().invoke(main, list(args))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def filled(site):
    """A database with a day of east-stack readings and alerts: Thursday 2026-11-19 in Shanghai, which is
    2026-11-18T16:00Z to 2026-11-19T16:00Z."""
    connect(site.dashboard_database, migrate_schema=True).close()
    with Store(site.dashboard_database) as store:
        readings = [  # (utc time, temperature, humidity)
            ("2026-11-18T15:30:00Z", 30.0, 90.0),  # the evening before: not in the period
            ("2026-11-18T17:00:00Z", 20.0, 50.0),
            ("2026-11-18T23:00:00Z", 21.0, 55.0),
            ("2026-11-19T05:00:00Z", 22.0, 62.0),  # above the 45-60 % RH band
            ("2026-11-19T11:00:00Z", 23.0, 58.0),
            ("2026-11-19T16:00:00Z", 10.0, 20.0),  # the next day: not in the period
        ]
        for seq, (ts, temperature, humidity) in enumerate(readings, start=1):
            reading = protocol.Reading(
                id=f"r{seq}", seq=seq, ts=at(ts), room="east-stack", sensor="dht-1", state="ok",
                temperature_c=temperature, humidity_rh=humidity,
            )  # fmt: skip
            store.ingest(EAST.telemetry("east-stack", "dht-1"), reading.to_json(), received=at(ts))
        for seq, ts, severity, data in (
            (7, "2026-11-19T01:00:00Z", "alarm", {"value": 62.04, "limit": 60.0}),
            (8, "2026-11-19T03:00:00Z", "info", {"cleared": True, "lasted_s": 7200}),
        ):
            event = protocol.Event(
                id=f"e{seq}", seq=seq, ts=at(ts), kind="humidity_high", severity=severity, room="east-stack",
                message="humidity 62.0 % RH above 60 % RH for 15 min", data=data,
            )  # fmt: skip
            store.ingest(EAST.event("humidity_high"), event.to_json(), received=at(ts))
    with sqlite3.connect(site.dashboard_database) as conn:
        alerts.raise_alert(
            conn, site="demo", gateway="gw-west", room=None, key="gateway_offline:gw-west", kind="gateway_offline",
            severity="alarm", message="gateway gw-west is offline", at="2026-11-19T10:00:00.000000Z",
        )  # fmt: skip
        alerts.end_alert(conn, site="demo", key="gateway_offline:gw-west", at="2026-11-19T10:30:00.000000Z")
        (first,) = conn.execute("SELECT id FROM alerts WHERE kind = 'humidity_high'").fetchone()
        alerts.acknowledge(conn, first, by="fatima", at="2026-11-19T02:00:00.000000Z", comment="door shut")
    return site


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    return text.get_content(), html.get_content()


def audited(site) -> list[tuple[str, str]]:
    with sqlite3.connect(site.dashboard_database) as conn:
        return conn.execute("SELECT action, object FROM audit WHERE action = 'report_generated'").fetchall()


class Inbox:
    """What the SMTP server received, and who logged in."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"reports" and auth_data.password == b"s3cret mail"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, f"127.0.0.1:{controller.port}"
    finally:
        controller.stop()


def test_a_daily_report_sent_in_chinese_through_a_real_smtp_server(filled, smtp_server):
    inbox, address = smtp_server
    site = filled
    site.source.write_text(
        site.source.read_text() + '\n[reports]\nsender = "storeroom@archive.example"\nstarttls = false\n'
    )
    (site.storage.secrets / "smtp.user").write_text("reports\n")
    (site.storage.secrets / "smtp.password").write_text("s3cret mail\n")
    result = storeroom(
        "dashboard", "report", "--period", "day", "--end", "2026-11-20", "--lang", "zh_CN",
        "--to", "keeper@archive.example", "--smtp", address, "--config", str(site.source),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert inbox.logins == ["reports"]  # the account from the secrets folder
    ((sender, recipients, raw),) = inbox.messages
    assert sender == "storeroom@archive.example" and recipients == ["keeper@archive.example"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "库房日报 demo，2026-11-19"
    assert message["Content-Language"] == "zh-Hans-CN"
    text, html = parts(message)
    for body in (text, html):
        assert "时段：2026-11-19 00:00 至 2026-11-20 00:00（Asia/Shanghai）" in body
        assert "20.0 / 23.0 / 21.5" in body  # temperature min / max / mean of the four readings in the day
        assert "50.0 / 62.0 / 56.2" in body  # humidity
        assert "75.0 %" in body  # three of four readings in both bands
        assert "2026-11-19 09:00 [报警] east-stack: 湿度 62.0 % RH，高于上限 60.0 % RH" in body  # local time
        assert "gw-west：离线 30 分钟（1 次）" in body
    assert "新增: 2, 已结束: 2, 已确认: 1, 期末仍未结束: 0" in text
    assert '<tr data-room="east-stack">' in html and "<h2>各库房温湿度</h2>" in html
    assert audited(site) == [("report_generated", "report/day/2026-11-18T16:00:00.000000Z")]


def test_a_weekly_report_in_the_users_language_written_to_a_file(filled, tmp_path):
    site = filled
    add_user(site.dashboard_database, "fatima", "facilities")
    with sqlite3.connect(site.dashboard_database) as conn:
        users = Users(conn)
        users.set_language(users.get("fatima").id, "en")
    with sqlite3.connect(site.dashboard_database) as conn:  # a dossier digitized, a shelf's stocktake closed
        conn.execute(
            "INSERT INTO dossier_scans (site, dossier, gateway, seq, ts, received, pages, files)"
            " VALUES ('demo', 'A01-0007', 'gw-east', 90, '2026-11-17T03:00:00.000000Z', '2026-11-17T03:00:01Z',"
            " 14, '{}')"
        )
        conn.execute(
            "INSERT INTO stocktakes (id, scope, started, started_by, closed, closed_by)"
            " VALUES (1, 'east-shelf', '2026-11-16T01:00:00Z', 'kim', '2026-11-16T02:00:00.000000Z', 'kim')"
        )
        conn.executemany(
            "INSERT INTO stocktake_findings (stocktake, code, outcome) VALUES (1, ?, ?)",
            [("A01-0001", "found"), ("A01-0002", "found"), ("A01-0003", "missing"), ("A01-0004", "misplaced")],
        )
    out = tmp_path / "week.eml"
    result = storeroom(
        "dashboard", "report", "--period", "week", "--end", "2026-11-21", "--user", "fatima",
        "--to", "fatima@archive.example", "--out", str(out), "--config", str(site.source),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    message = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Storeroom weekly report demo, 2026-11-14 to 2026-11-20"
    assert message["Content-Language"] == "en"
    text, html = parts(message)
    assert "Humidity 62.0 % RH, above its limit of 60.0 % RH" in text
    assert "raised: 2, ended: 2, acknowledged: 1" in text
    assert "gw-west: offline 30 min (1 times)" in html
    assert "== Dossiers digitized ==\n- A01-0007: 14 pages" in text
    assert "== Stocktakes closed ==\n- east-shelf: 2 found, 1 missing, 1 misplaced" in text
    assert "Outside (north wall) (outside): no readings" in text
    assert audited(site) == [("report_generated", "report/week/2026-11-13T16:00:00.000000Z")]


def test_a_server_without_starttls_is_refused_when_the_config_asks_for_it(filled, smtp_server):
    inbox, address = smtp_server
    result = storeroom(
        "dashboard", "report", "--to", "keeper@archive.example", "--smtp", address, "--config", str(filled.source)
    )
    assert result.exit_code == 1
    assert "does not offer STARTTLS" in result.output
    assert inbox.messages == [] and audited(filled) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "not an address"], "is not one e-mail address"),
        (["--to", "a@b.example", "--lang", "fr"], "'fr' is not one of"),
        (["--to", "a@b.example", "--period", "month"], "'month' is not one of"),
        (["--to", "a@b.example", "--smtp", "nohost"], "is not HOST:PORT"),
        (["--to", "a@b.example", "--user", "nobody", "--out", "x.eml"], "nobody"),
    ],
)
def test_bad_arguments_are_refused_naming_what_was_wrong(filled, args, says):
    result = storeroom("dashboard", "report", *args, "--config", str(filled.source))
    assert result.exit_code != 0
    assert says in result.output
    assert audited(filled) == []


def test_an_unreachable_smtp_server_is_a_one_line_error(filled):
    result = storeroom(
        "dashboard", "report", "--to", "a@b.example", "--smtp", f"127.0.0.1:{free_port()}",
        "--config", str(filled.source),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "sending through 127.0.0.1:" in result.output and "failed" in result.output
