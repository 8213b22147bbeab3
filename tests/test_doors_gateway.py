"""Door access on a running gateway with a real broker: the permission document arrives retained, is
checked and run at once, and answered; a remote unlock needs a reason; with the broker down the doors
keep deciding and the log goes out afterwards."""

from __future__ import annotations

import json
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway import protocol
from gateway.service import GatewayService
from hardware.access_key import access_key
from hardware.clock import SimClock
from hardware.config import load
from hardware.door_world import DEMO_BADGES
from tests.support import wait_until, write_site
from tests.test_gateway_service import queued, running

ROOM, DOOR = "east-stack", "entrance"
BADGE = {b.holder: b for b in DEMO_BADGES}
ANY_TIME = [{"room": ROOM}]


def document(site, version: int, holders: list[dict], rooms: dict | None = None) -> protocol.PermissionDocument:
    raw = {"version": version, "issued": "2026-11-01T00:00:00Z", "site": "demo", "holders": holders}
    raw["rooms"] = rooms or {}
    return protocol.PermissionDocument.model_validate_json(json.dumps(raw)).signed(access_key(site, create=True))


def keeper(**more) -> dict:
    return {"id": "keeper", "badges": [{"number": BADGE["keeper"].number, **more}], "grants": ANY_TIME}


class Dashboard:
    """The dashboard's broker account, publishing as the dashboard does."""

    def __init__(self, broker) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"d-{uuid.uuid4().hex}", clean_session=False
        )
        self.client.username_pw_set("dashboard", broker.password("dashboard"))
        self.received: list[tuple[str, dict]] = []
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, json.loads(m.payload)))
        self.client.on_connect = lambda c, *_: c.subscribe("storeroom/demo/gw-east/#", qos=1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.topics = protocol.Topics("demo", "gw-east")

    def seen(self, kind: str) -> list[dict]:
        """What the gateway has sent of one kind (e.g. `event/access`), in order, one per seq."""
        by_seq = {p["seq"]: p for t, p in list(self.received) if t.endswith("/" + kind) and "seq" in p}
        return [by_seq[s] for s in sorted(by_seq)]

    def permissions(self, doc: protocol.PermissionDocument | bytes) -> None:
        payload = doc if isinstance(doc, bytes) else doc.to_json()
        self.client.publish(self.topics.permissions, payload, qos=1, retain=True).wait_for_publish(10)

    def command(self, name: str, **args) -> None:
        command = protocol.Command(id=protocol.new_id(), ts=protocol.utc_now(), by="admin", args=args)
        self.client.publish(self.topics.cmd(name), command.to_json(), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def east(tmp_path, broker):
    # The conftest's broker runs for the conftest's site; this gateway shares its storage and secrets.
    site = broker.site
    path = write_site(tmp_path / "doors", speed=1.0, door_openings_per_hour=0.0)
    raw = path.read_text().replace(str(tmp_path / "doors" / "data"), str(site.storage.dir))
    raw = raw.replace("badge_visits_per_hour = 6.0", "badge_visits_per_hour = 0.0")  # only the test's people
    path.write_text(raw)
    gateway_site = load(path)
    service = GatewayService(
        gateway_site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port, clock=SimClock(1)
    )
    with running(service) as s:
        assert s.link.wait_connected(10)
        yield s


@pytest.fixture
def dashboard(broker):
    d = Dashboard(broker)
    yield d
    d.close()


def test_a_retained_document_is_run_answered_and_replaced_by_the_next(east, dashboard, broker):
    site = broker.site
    dashboard.permissions(document(site, 1, [keeper()]))
    wait_until(lambda: east.doors.version == 1, timeout=120, what="version 1 in force")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    dashboard.permissions(document(site, 2, [keeper(lost=True)]))
    wait_until(lambda: east.doors.version == 2, timeout=120, what="version 2 in force")
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    wait_until(lambda: dashboard.seen("event/access")[1:], what="both decisions")
    access = dashboard.seen("event/access")
    assert [e["data"]["reason"] for e in access] == ["granted", "lost_badge"]
    wait_until(
        lambda: [b for b in dashboard.seen("birth") if b.get("permissions_version") == 2],
        what="a birth that says which version the gateway runs",
    )


def test_a_forged_or_malformed_document_is_refused_and_the_last_good_one_stays(east, dashboard, broker):
    site = broker.site
    dashboard.permissions(document(site, 1, [keeper()]))
    wait_until(lambda: east.doors.version == 1, timeout=120, what="version 1")
    good = document(site, 2, [keeper()])
    forged = good.model_copy(update={"holders": [*good.holders, protocol.Holder(id="eve", grants=[])]})
    dashboard.permissions(forged)
    refused = wait_until(
        lambda: [a for a in dashboard.seen("cmd/permissions/ack") if not a["ok"]], timeout=120, what="a refusal"
    )
    assert refused[0]["command_id"] == "v2" and "signature does not match" in refused[0]["detail"]
    dashboard.permissions(b'{"v": 1, "version": "three"}')  # not even a document: refused by the link, counted
    wait_until(lambda: east.link.stats.commands_refused >= 1, timeout=120, what="the malformed one counted")
    assert east.doors.version == 1


def test_a_remote_unlock_needs_a_reason_and_is_logged_with_it(east, dashboard, broker):
    dashboard.command("unlock", room=ROOM, reason="")
    dashboard.command("unlock", room=ROOM, reason="courier with the dossier boxes")
    wait_until(lambda: dashboard.seen("cmd/unlock/ack")[1:], timeout=120, what="two answers")
    answers = dashboard.seen("cmd/unlock/ack")
    assert [a["ok"] for a in answers] == [False, True]
    assert "needs a reason" in answers[0]["detail"]
    (unlock,) = wait_until(lambda: dashboard.seen("event/access"), what="the unlock logged")
    assert unlock["data"] == {
        "granted": True, "reason": "remote_unlock", "side": "outside", "holder": "admin",
        "detail": "courier with the dossier boxes",
    }  # fmt: skip


def test_with_the_broker_down_permissions_hold_and_the_log_is_sent_afterwards(east, dashboard, broker):
    site = broker.site
    dashboard.permissions(document(site, 1, [keeper()]))
    wait_until(lambda: east.doors.version == 1, timeout=120, what="version 1")
    broker.stop()
    east.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    east.world.present_badge(ROOM, DOOR, BADGE["stranger"])
    wait_until(lambda: queued(east, "event/access")[1:], timeout=120, what="both decisions in the outbox")
    assert [e["data"]["reason"] for e in queued(east, "event/access")] == ["granted", "unknown_badge"]
    broker.start()
    wait_until(lambda: dashboard.seen("event/access")[1:], timeout=180, what="the log")
    access = dashboard.seen("event/access")
    assert [(e["data"]["reason"], e["historical"]) for e in access] == [("granted", True), ("unknown_badge", True)]
