"""The dashboard's web app through Flask's test client, on a real SQLite file filled by the real store:
the JSON API's shape, ages and the stale flag, JSON errors under /api, and the overview page's hooks."""

from __future__ import annotations

import doctest
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

import dashboard.app
from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from tests.support import add_user, login, send_reading

EAST = protocol.Topics("demo", "gw-east")


@pytest.fixture
def app(site, tmp_path):
    return create_app(site, database=tmp_path / "dashboard.db")


@pytest.fixture
def client(app):
    """Facilities staff, logged in: they may see everything on the overview."""
    add_user(app.config["DATABASE"], "fatima", "facilities")
    logged_in = app.test_client()
    assert login(logged_in, "fatima").status_code == 302
    return logged_in


@pytest.fixture
def store(app):
    """The writer's side, as the ingest holds it, on the app's database file."""
    with Store(app.config["DATABASE"]) as opened:
        yield opened


def room(client, room_id: str) -> dict:
    return next(r for r in client.get("/api/rooms").json["rooms"] if r["id"] == room_id)


# -- /api/rooms -------------------------------------------------------------------------------------


def test_every_configured_room_is_listed_before_any_message(client):
    answer = client.get("/api/rooms")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert set(body) == {"now", "stale_after_s", "rooms"}
    assert body["stale_after_s"] == 120.0
    assert [r["id"] for r in body["rooms"]] == ["east-stack", "west-stack", "outside"]
    east = body["rooms"][0]
    assert set(east) == {
        "site", "id", "name", "configured", "gateway", "gateway_state", "temperature_c", "humidity_rh", "ts",
        "synced", "age_s", "stale", "state", "sensors", "humidity_band", "used", "mould_index", "relays", "doors",
    }  # fmt: skip
    assert (east["name"], east["gateway"], east["gateway_state"]) == (
        "East stack (compact shelving)",
        "gw-east",
        "unknown",
    )
    assert (east["temperature_c"], east["humidity_rh"], east["age_s"], east["stale"]) == (None, None, None, True)
    assert east["relays"] == [{"id": "dehum-1", "type": "dehumidifier", "on": None, "changed": None}]
    assert east["doors"] == [
        {"id": "entrance", "type": None, "open": None, "changed": None, "locked": None, "locked_changed": None},
        {"id": "main-door", "type": None, "open": None, "changed": None, "locked": None, "locked_changed": None},
    ]


def test_a_fresh_reading_is_shown_with_its_age(client, store):
    send_reading(store, 1, age_s=12)
    east = room(client, "east-stack")
    assert (east["temperature_c"], east["humidity_rh"], east["state"], east["stale"]) == (21.3, 58.6, "ok", False)
    assert 12 <= east["age_s"] < 20
    assert east["ts"].endswith("Z")


def test_a_reading_older_than_stale_after_s_is_flagged_stale(client, store, site):
    send_reading(store, 1, age_s=site.dashboard.stale_after_s + 5)
    east = room(client, "east-stack")
    assert east["stale"] is True
    assert east["humidity_rh"] == 58.6  # still shown, marked as old
    assert room(client, "west-stack")["stale"] is True  # never read at all


# -- /api/gateways and /api/ingest ------------------------------------------------------------------


def test_gateways_show_their_state_counters_and_gaps_in_seq(client, store):
    store.ingest(EAST.status, protocol.Status(state="online", session=2).to_json())
    for seq in (1, 2, 6, 6):
        send_reading(store, seq)
    body = client.get("/api/gateways").json
    assert set(body) == {"now", "gateways"}
    east, west = body["gateways"]
    assert (east["id"], east["state"], east["online"], east["session"]) == ("gw-east", "online", True, 2)
    assert (east["last_seq"], east["messages"], east["duplicates"], east["missing"]) == (6, 3, 1, 3)
    assert [(g["first"], g["last"], g["missing"]) for g in east["gaps"]] == [(3, 5, 3)]
    assert (west["id"], west["state"], west["online"], west["last_seq"]) == ("gw-west", "unknown", False, None)


def test_ingest_counts_outcomes_and_shows_recent_refusals(client, store):
    send_reading(store, 1)
    send_reading(store, 1)
    store.ingest(EAST.telemetry("east-stack", "dht-1"), b"{oops")
    body = client.get("/api/ingest").json
    assert (body["accepted"], body["duplicates"], body["refused"], body["refused_total"]) == (1, 1, {"not_json": 1}, 1)
    [reject] = body["recent_rejects"]
    assert (reject["reason"], reject["preview"], reject["size"]) == ("not_json", "{oops", 5)
    assert reject["topic"] == "storeroom/demo/gw-east/telemetry/east-stack/dht-1"


# -- errors -----------------------------------------------------------------------------------------


def test_an_unknown_api_route_is_a_404_in_json(client):
    answer = client.get("/api/no-such-thing/unknown")
    assert answer.status_code == 404
    assert answer.content_type == "application/json"
    assert answer.json["error"] == "not_found"
    assert answer.json["status"] == 404


def test_a_wrong_method_on_the_api_is_a_405_in_json(client):
    answer = client.post("/api/rooms")
    assert (answer.status_code, answer.json["error"]) == (405, "method_not_allowed")


def test_an_unknown_page_is_a_404_page_for_people(client):
    answer = client.get("/nowhere")
    assert answer.status_code == 404
    assert answer.content_type.startswith("text/html")


# -- the overview page ------------------------------------------------------------------------------


class Hooks(HTMLParser):
    """Text of every element marked data-field, keyed by the data-room or data-gateway it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[tuple[str, str], str] = {}
        self.assets: list[str] = []
        self._open: list[tuple[str, str | None, str | None]] = []  # (tag, owner, field)
        self._template = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("link", "script", "img", "iframe", "source"):  # what the browser loads (links are not)
            self.assets += [a[k] or "" for k in ("src", "href") if k in a]
        self._template += tag == "template"
        owner = a.get("data-room") or a.get("data-gateway") or (self._open[-1][1] if self._open else None)
        self._open.append((tag, owner, a.get("data-field")))

    def handle_endtag(self, tag: str) -> None:
        self._template -= tag == "template"
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._template:
            return
        for _tag, owner, field in self._open:
            if owner and field:
                key = (owner, field)
                self.fields[key] = (self.fields.get(key, "") + data).strip()


def page_hooks(client) -> tuple[Hooks, object]:
    answer = client.get("/")
    assert answer.status_code == 200
    hooks = Hooks()
    hooks.feed(answer.text)
    return hooks, answer


def test_the_overview_shows_each_room_with_stable_hooks_for_its_values(client, store):
    send_reading(store, 1, age_s=12, humidity=58.6)
    hooks, _ = page_hooks(client)
    assert hooks.fields["east-stack", "temperature"] == "21.3"
    assert hooks.fields["east-stack", "humidity"] == "58.6"
    assert hooks.fields["east-stack", "age"] in {"12 秒前", "13 秒前", "14 秒前"}
    assert hooks.fields["west-stack", "humidity"] == "—"
    assert hooks.fields["west-stack", "age"] == "尚无读数"
    assert hooks.fields["gw-east", "last_seq"] == "1"
    assert hooks.fields["gw-west", "state"] == "未上线"


def test_the_overview_marks_a_stale_room_and_an_offline_gateway(client, store):
    send_reading(store, 1, age_s=2 * 3600)
    store.ingest(EAST.status, protocol.Status(state="offline", session=1).to_json())
    text = client.get("/").text
    assert 'class="room is-stale" data-room="east-stack"' in " ".join(text.split())
    assert 'data-gateway="gw-east" data-state="offline"' in text
    hooks, _ = page_hooks(client)
    assert hooks.fields["east-stack", "age"] == "2 小时前"


def test_the_overview_uses_no_external_assets(client):
    hooks, answer = page_hooks(client)
    assert hooks.assets == ["/static/dashboard.css", "/static/overview.js"]
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    for asset in hooks.assets:
        served = client.get(asset)
        assert served.status_code == 200
        assert b"http://" not in served.data and b"https://" not in served.data
        served.close()


def test_hostile_text_in_a_refused_message_is_shown_as_text(client, store):
    store.ingest("storeroom/demo/gw-east/<script>alert(1)</script>", b"<img src=x onerror=alert(1)>")
    text = client.get("/").text
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text


def test_the_labels_for_live_updates_are_valid_json_in_the_page(client):
    text = client.get("/").text
    start = text.index("data-labels='") + len("data-labels='")
    labels = json.loads(text[start : text.index("'", start)])
    assert labels["online"] == "在线"


def test_the_docstring_example_runs(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])  # the example names the demo config from the repository's root
    assert doctest.testmod(dashboard.app).failed == 0


# -- the live stream ----------------------------------------------------------------------------------


def test_the_live_stream_sends_snapshots_as_server_sent_events(client, store):
    send_reading(store, 1, humidity=57.5)
    answer = client.get("/api/stream", buffered=False)
    assert answer.status_code == 200
    assert answer.mimetype == "text/event-stream"
    chunks = answer.response
    assert next(chunks).startswith(b"retry: ")
    event = next(chunks).decode()
    answer.close()
    assert event.startswith("event: snapshot\ndata: ")
    snapshot = json.loads(event.split("data: ", 1)[1])
    east = next(r for r in snapshot["rooms"]["rooms"] if r["id"] == "east-stack")
    assert east["humidity_rh"] == 57.5
    assert {g["id"] for g in snapshot["gateways"]["gateways"]} == {"gw-east", "gw-west"}


def test_the_live_stream_needs_a_login(app):
    assert app.test_client().get("/api/stream").status_code == 401
