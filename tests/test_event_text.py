"""Gateways' events on Chinese pages: every known kind worded from its fields, none left in English."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from dashboard import alerts, event_text
from dashboard.app import create_app
from tests.support import add_user, login
from tests.test_translations import visible_text

PROTOCOL = Path(__file__).parents[1] / "docs" / "PROTOCOL.md"
OWN_KINDS = ("gateway_offline", "seq_gap")
"""Alerts the dashboard raises itself."""


def protocol_kinds() -> set[str]:
    """Every event kind docs/PROTOCOL.md lists in its `event/<kind>` table."""
    text = PROTOCOL.read_text().split("### `event/<kind>`", 1)[1].split("`reason` is one of", 1)[0]
    kinds = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            kinds.update(re.findall(r"`(\w+)`", line.split("|")[1]))
    return kinds


DATA = {
    "value": 63.24,
    "limit": 60,
    "code": "east-0001",
    "location": "east-stack",
    "reader": "entrance-out",
    "dossier": "east-0001",
    "page": 2,
    "pages": 12,
    "holder": "kim",
    "borrower": "kim",
    "loan": 4,
    "version": 3,
    "stand": "east",
    "free_mb": 812,
}
VARIANT_DATA = {
    "on": {"on": True},
    "off": {"on": False},
    "valid": {"valid": True},
    "invalid": {"valid": False},
    "open": {"state": "open", "open": True},
    "closed": {"state": "closed", "open": False},
    "locked": {"locked": True},
    "unlocked": {"locked": False},
    "granted": {"granted": True},
    "refused": {"granted": False, "applied": False},
    "applied": {"applied": True},
    "manifest": {"page": None},
}


def every_kind() -> list[tuple[str, dict]]:
    """Each kind once per wording it has: (kind, data)."""
    cases = []
    for kind in sorted(protocol_kinds() | set(OWN_KINDS)):
        variants = [k.split(":", 1)[1] for k in event_text.TEXTS if k.startswith(f"{kind}:")] or [""]
        cases += [(kind, DATA | VARIANT_DATA.get(variant, {})) for variant in variants]
    return cases


@pytest.fixture
def app(site):
    app = create_app(site)
    add_user(app.config["DATABASE"], "kim", "keeper")
    return app


def raise_(app, kind: str, data: dict, *, device: str = "dehum-1", message: str = "") -> None:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        alerts.raise_alert(
            conn,
            site="demo",
            gateway="gw-east",
            room="east-stack",
            key=f"{kind}:{sorted(data.items())}",
            kind=kind,
            severity="warning",
            message=message or f"{kind} happened in English words",
            at="2026-11-23T02:00:00.000000Z",
            device=device,
            data=data,
        )


def test_the_protocol_table_is_read():
    assert {"humidity_high", "sensor_stale", "dehumidifier_tank_full", "reader_fault", "door_forced"} <= (
        protocol_kinds()
    )


@pytest.mark.parametrize(("kind", "data"), every_kind(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_known_kind_is_worded(kind, data):
    assert event_text.known(kind, data), f"{kind}: no sentence in dashboard/event_text.py TEXTS"


@pytest.mark.parametrize("path", ["/alerts/", "/rooms/east-stack"])
def test_alerts_of_every_kind_show_no_english_on_a_chinese_page(app, path):
    for kind, data in every_kind():
        raise_(app, kind, data)
    client = app.test_client()
    login(client, "kim")
    html = client.get(path).get_data(as_text=True)
    assert "gateway-words" not in html
    text = visible_text(html)
    # Names and ids from the config and the sample data, units, numbers may stay Latin.
    allowed = {"English", "Demo", "personnel", "archive", "East", "West", "stack", "compact", "fixed", "shelving",
               "gw", "east", "west", "dht", "dehum", "main", "door", "Outside", "north", "wall", "out", "outside",
               "RH", "C", "h", "MB", "kim", "keeper", "entrance", "CST", "seq"}  # fmt: skip
    words = set(re.findall(r"[A-Za-z]+", text)) - allowed
    assert words == set(), f"{path}: English left on a Chinese page: {sorted(words)}"


def test_values_and_limits_are_shown_with_their_units(app):
    raise_(app, "humidity_high", {"value": 63.24, "limit": 60})
    raise_(app, "temperature_low", {"value": 12.96, "limit": 14}, device="east")
    client = app.test_client()
    login(client, "kim")
    text = visible_text(client.get("/alerts/").get_data(as_text=True))
    assert "湿度 63.2 % RH，高于上限 60.0 % RH" in text
    assert "温度 13.0 °C，低于下限 14.0 °C" in text


def test_an_unknown_kind_is_shown_in_the_gateways_own_words_marked_so(app):
    raise_(app, "cellar_flooded", {"depth_cm": 3}, message="water <b>3 cm</b> deep")
    raise_(app, "humidity_high", {}, message="old alert before data was kept")  # no value: cannot be worded
    client = app.test_client()
    login(client, "kim")
    html = client.get("/alerts/").get_data(as_text=True)
    assert '<q class="gateway-words" lang="en" title="网关原文">water &lt;b&gt;3 cm&lt;/b&gt; deep</q>' in html
    assert '<q class="gateway-words" lang="en" title="网关原文">old alert before data was kept</q>' in html


def test_names_in_a_sentence_are_shown_as_text(app):
    raise_(app, "door_forced", {}, device="<img src=x onerror=alert(1)>")
    client = app.test_client()
    login(client, "kim")
    html = client.get("/alerts/").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; 被强行打开" in html


def test_a_cleared_event_says_it_is_over(app):
    with app.test_request_context():
        assert event_text.sentence("door_forced", device="main-door", data={"cleared": True}) == (
            "已结束：main-door 被强行打开（上锁且未授权时开门）"
        )


def test_english_visitors_read_english(app):
    from dashboard.users import Users

    with sqlite3.connect(app.config["DATABASE"]) as conn:
        users = Users(conn)
        users.set_language(users.get("kim").id, "en")
    raise_(app, "dehumidifier_tank_full", {})
    client = app.test_client()
    login(client, "kim")
    assert "dehum-1: tank full, unit stopped; empty it" in visible_text(client.get("/alerts/").get_data(as_text=True))
