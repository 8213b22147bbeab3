"""Door access on the simulated storeroom: Wiegand readers on mock pins, the strike, the door's alarms.

The tests drive the world (people badge, pull, force, tamper, the fire panel) and read what the gateway's
controller decided through its events and the world's strike, as a person at the door would.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import protocol
from gateway.controller import Controller
from hardware.access_key import access_key
from hardware.clock import ManualClock
from hardware.config import from_dict
from hardware.door_world import DEMO_BADGES

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
ROOM, DOOR = "east-stack", "entrance"
BADGE = {b.holder: b for b in DEMO_BADGES}
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp()  # 10:00 in Shanghai


def raw_demo() -> dict:
    return tomllib.loads(DEMO.read_text(encoding="utf-8"))


def entrance(raw: dict) -> dict:
    east = next(r for r in raw["rooms"] if r["id"] == ROOM)
    return next(d for d in east["doors"] if d["id"] == DOOR)["access"]


# -- the door on the simulated world ---------------------------------------------------------------


def signed_document(site, holders: list[dict], *, version: int = 1, rooms: dict | None = None) -> bytes:
    raw = {"version": version, "issued": "2026-11-01T00:00:00Z", "site": "demo", "holders": holders}
    raw["rooms"] = {ROOM: {"two_person": True}} if rooms is None else rooms
    doc = protocol.PermissionDocument.model_validate_json(json.dumps(raw))
    return doc.signed(access_key(site, create=True)).to_json()


def staff(name: str, **more) -> dict:
    grant = {"room": ROOM, "windows": [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]}
    return {"id": name, "badges": [{"number": BADGE[name].number}], "grants": [grant], **more}


class Door:
    """The east stack's gateway controller and world, on a hand-moved clock, with its events."""

    def __init__(self, tmp_path: Path, *, strike: dict | None = None, start: float = MONDAY_10) -> None:
        raw = raw_demo()
        raw["storage"]["dir"] = str(tmp_path / "var")
        raw["hardware"]["sim"]["door_openings_per_hour"] = 0.0
        raw["hardware"]["sim"]["badge_visits_per_hour"] = 0.0  # only the people the test sends
        entrance(raw)["strike"].update(strike or {})
        self.site = from_dict(raw, tmp_path / "site.toml")
        self.clock = ManualClock(start)
        self.events: list[tuple[float, str, dict]] = []
        self.fail_events = False
        self.controller = Controller(self.site, "gw-east", self.clock, on_reading=lambda *_: None, on_event=self._event)
        self.world = self.controller.world
        self.doors = self.controller.doors

    def _event(self, kind: str, **fields) -> None:
        if self.fail_events:
            raise OSError("disk full")
        self.events.append((self.clock.time(), kind, fields))

    def permit(self, holders: list[dict], **kwargs) -> tuple[bool, str]:
        raw = signed_document(self.site, holders, **kwargs)
        return self.doors.apply(protocol.PermissionDocument.model_validate_json(raw))

    def run(self, seconds: float, every: float = 0.5) -> None:
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            self.clock.advance(min(every, end - self.clock.time()))
            self.world.advance_to(self.clock.time())
            self.controller.step()

    def access(self) -> list[dict]:
        return [f["data"] for _, kind, f in self.events if kind == "access"]

    def alarms(self, kind: str) -> list[dict]:
        return [f for _, k, f in self.events if k == kind]

    @property
    def locked(self) -> bool:
        return self.world.door_locked(ROOM, DOOR)

    def close(self) -> None:
        self.controller.close()


@pytest.fixture
def door(tmp_path):
    made: list[Door] = []

    def make(**kwargs) -> Door:
        made.append(Door(tmp_path / str(len(made)), **kwargs))
        return made[-1]

    yield make
    for d in made:
        d.close()


def test_a_pair_enters_a_two_person_room_and_leaves_by_the_button(door):
    d = door()
    d.permit([staff("keeper"), staff("archivist")])
    d.world.visit(ROOM, DOOR, [BADGE["keeper"], BADGE["archivist"]], stay_s=120)
    d.run(200)
    reasons = [(a.get("holder"), a["reason"]) for a in d.access()]
    assert reasons == [("keeper", "waiting_second_person"), ("archivist", "granted"), (None, "exit_button")]
    assert d.access()[1]["with"] == "keeper"
    did = [e["did"] for e in d.world.door_log(ROOM, DOOR)]
    assert did == ["badge", "badge", "opened", "opened"]
    assert d.locked and not d.alarms("door_forced") and not d.alarms("door_held_open")


def test_one_person_alone_cannot_open_a_two_person_room(door):
    d = door()
    d.permit([staff("keeper"), staff("archivist")])
    d.world.visit(ROOM, DOOR, [BADGE["keeper"]])
    d.run(60)
    assert [a["reason"] for a in d.access()] == ["waiting_second_person"]
    assert "pulled a locked door" in [e["did"] for e in d.world.door_log(ROOM, DOOR)]


def test_after_hours_and_unknown_badges_are_refused_with_their_reason(door):
    d = door(start=MONDAY_10 + 10 * 3600)  # 20:00
    d.permit([staff("keeper"), staff("archivist")], rooms={})
    d.world.visit(ROOM, DOOR, [BADGE["keeper"]])
    d.world.visit(ROOM, DOOR, [BADGE["stranger"]], at=d.clock.time() + 30)
    d.run(60)
    assert [(a["reason"], a["granted"]) for a in d.access()] == [("outside_hours", False), ("unknown_badge", False)]
    assert d.locked


def test_a_garbled_wiegand_frame_is_refused_as_unreadable(door):
    d = door()
    d.permit([staff("keeper")], rooms={})
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"], flip=3)
    (refusal,) = d.access()
    assert (refusal["granted"], refusal["reason"]) == (False, "unreadable")
    assert "bad_parity" in refusal["detail"]
    assert d.locked


def test_a_permission_change_takes_effect_and_is_kept_on_disk(door, tmp_path):
    d = door()
    assert d.permit([staff("keeper")], rooms={})[0]
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    assert d.permit([staff("keeper", disabled=True)], rooms={}, version=2)[0]
    d.run(10)
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    assert [a["reason"] for a in d.access()] == ["granted", "user_disabled"]
    d.close()
    restarted = Door(Path(d.site.storage.dir).parent)  # a restart without any broker: the last good one runs
    try:
        assert restarted.doors.version == 2
        restarted.world.present_badge(ROOM, DOOR, BADGE["keeper"])
        assert restarted.access()[-1]["reason"] == "user_disabled"
    finally:
        restarted.close()


def test_a_forged_older_or_foreign_document_is_refused_and_the_last_good_one_runs(door):
    d = door()
    assert d.permit([staff("keeper")], rooms={}, version=3)[0]
    doc = protocol.PermissionDocument.model_validate_json(signed_document(d.site, [staff("archivist")], version=4))
    forged = doc.model_copy(update={"holders": [*doc.holders, protocol.Holder(id="eve")]})
    assert d.doors.apply(forged) == (False, "version 4: the signature does not match (altered, or another key)")
    older = protocol.PermissionDocument.model_validate_json(signed_document(d.site, [], version=2))
    assert not d.doors.apply(older)[0]
    foreign = doc.model_copy(update={"site": "elsewhere"}).signed(access_key(d.site))
    assert "not 'demo'" in d.doors.apply(foreign)[1]
    assert d.doors.version == 3
    assert [e["data"]["applied"] for e in d.alarms("permissions")] == [True, False, False, False]


def test_a_door_opened_without_a_grant_is_forced_and_alarms_until_shut(door):
    d = door()
    d.world.force_door(ROOM, DOOR)
    d.run(2)
    (raised,) = d.alarms("door_forced")
    assert raised["severity"] == "alarm"
    d.world.close_door(ROOM, DOOR)
    d.run(1)
    assert d.alarms("door_forced")[-1]["data"]["cleared"] is True


def test_a_door_someone_forgot_to_close_raises_held_open(door):
    d = door()
    d.permit([staff("keeper"), staff("archivist")])
    d.world.visit(ROOM, DOOR, [BADGE["keeper"], BADGE["archivist"]], forget_to_close=True, stay_s=900)
    d.run(400, every=2)
    raised, cleared = d.alarms("door_held_open")
    assert raised["severity"] == "warning" and cleared["data"]["cleared"] is True
    assert not d.alarms("door_forced")


def test_tamper_and_emergency_release(door):
    d = door()
    d.world.set_tamper(ROOM, DOOR, intact=False)
    d.run(1)
    assert d.alarms("door_tamper")[0]["severity"] == "alarm"
    d.world.set_emergency(ROOM, DOOR, True)
    assert not d.locked  # at once, from the input's edge
    d.run(30)
    assert not d.locked
    d.world.force_door(ROOM, DOOR)  # people fleeing: not forced
    d.run(1)
    assert not d.alarms("door_forced")
    d.world.set_emergency(ROOM, DOOR, False)
    d.world.close_door(ROOM, DOOR)
    d.run(1)
    assert d.locked
    assert [a["data"].get("cleared", False) for a in d.alarms("emergency_release")] == [False, True]


def test_a_jammed_strike_is_a_strike_fault(door):
    d = door()
    d.world.jam_strike(ROOM, DOOR, locked=True)
    d.permit([staff("keeper")], rooms={})
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    d.run(3)
    assert d.alarms("strike_fault")[0]["severity"] == "alarm"
    d.run(5)  # pulse over: commanded locked, and the jammed bolt is locked: they agree again
    assert d.alarms("strike_fault")[-1]["data"]["cleared"] is True


def test_the_strike_never_stays_unlocked_past_its_pulse_even_when_events_fail(door):
    d = door()
    d.permit([staff("keeper")], rooms={})
    d.fail_events = True  # the outbox refuses everything from now on
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    assert not d.locked
    d.run(4.5)
    assert not d.locked
    d.run(0.6)
    assert d.locked


def test_the_strike_says_when_it_unlocks_and_locks_again(door):
    """`strike` events carry the lock's state to the dashboard: unlocked by a grant, locked when the pulse
    ends; unlocked by the fire panel until the emergency is over."""
    d = door()
    d.permit([staff("keeper")], rooms={})
    d.world.present_badge(ROOM, DOOR, BADGE["keeper"])
    d.run(6)
    d.world.set_emergency(ROOM, DOOR, True)
    d.run(1)
    d.world.set_emergency(ROOM, DOOR, False)
    d.run(1)
    told = [(f["device"], f["data"]["locked"]) for f in d.alarms("strike")]
    assert told == [(DOOR, False), (DOOR, True), (DOOR, False), (DOOR, True)]
    assert d.locked


@pytest.mark.parametrize(("mode", "free_when_dead"), [("fail-secure", False), ("fail-safe", True)])
def test_fail_mode_decides_the_door_when_the_gateway_dies(door, mode, free_when_dead):
    d = door(strike={"fail_mode": mode})
    assert d.locked
    d.controller.close()  # the gateway stops: every pin released
    assert d.world.door_locked(ROOM, DOOR) is not free_when_dead


def test_badge_tags_at_a_door_mfrc522_forged_or_not_badges_are_refused(tmp_path):
    raw = raw_demo()
    raw["storage"]["dir"] = str(tmp_path / "var")
    raw["hardware"]["sim"]["badge_visits_per_hour"] = 0.0
    entrance(raw)["readers"][1] = {"kind": "rfid", "id": "east-door", "side": "outside"}
    entrance(raw)["readers"][0]["side"] = "inside"
    events: list[dict] = []
    site = from_dict(raw, tmp_path / "site.toml")
    clock = ManualClock(MONDAY_10)
    record = lambda _kind, **fields: events.append(fields)  # noqa: E731
    controller = Controller(site, "gw-east", clock, on_reading=lambda *_: None, on_event=record)
    try:
        doc = signed_document(site, [{**staff("keeper"), "badges": [{"number": "B-0001"}]}], rooms={})
        controller.doors.apply(protocol.PermissionDocument.model_validate_json(doc))
        tag = controller.doors.tag
        assert not tag("east-shelf", True, "dossier", "DA-1", None)  # not a door's reader: a plain tag_read
        assert tag("east-door", False, None, None, "bad_mac")
        assert tag("east-door", False, None, None, "bad_crc")
        assert tag("east-door", True, "dossier", "DA-2026-00042", None)
        assert tag("east-door", True, "badge", "B-0001", None)
        reasons = [(e["data"]["reason"], e["data"].get("detail")) for e in events if "reason" in e.get("data", {})]
        assert reasons == [
            ("forged_tag", "bad_mac"),
            ("unreadable", "bad_crc"),
            ("not_a_badge", "a dossier tag DA-2026-00042"),
            ("granted", None),
        ]
    finally:
        controller.close()
