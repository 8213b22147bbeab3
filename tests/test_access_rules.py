"""The gateway's access rules (gateway/access.py) and the permission document they run on.

Pure: every rule is checked with a document and a time, no pins. Times are local to Asia/Shanghai.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from gateway import protocol
from gateway.access import AccessRules

ZONE = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32
ROOM, DOOR = "east-stack", "entrance"
WEEKDAYS = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]


def at(text: str) -> float:
    """Epoch seconds of a local time, e.g. '2026-11-23 10:00' (a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).timestamp()


def holder(ident: str, number: str, *, kind: str = "staff", grants: list | None = None) -> dict:
    default = [{"room": ROOM, "windows": WEEKDAYS}]
    return {"id": ident, "kind": kind, "badges": [{"number": number}], "grants": default if grants is None else grants}


def document(holders: list[dict], *, version: int = 1, rooms: dict | None = None) -> protocol.PermissionDocument:
    raw = {"version": version, "issued": "2026-11-01T00:00:00Z", "site": "demo", "holders": holders}
    raw["rooms"] = rooms or {}
    return protocol.PermissionDocument.model_validate_json(json.dumps(raw)).signed(KEY)


def rules(*holders: dict, **kwargs) -> AccessRules:
    r = AccessRules(ZONE)
    r.use(document(list(holders), **kwargs))
    return r


MONDAY = at("2026-11-23 10:00")


def test_a_staff_badge_with_a_grant_opens_in_hours():
    decision = rules(holder("ann", "12:1")).decide(ROOM, DOOR, "outside", "12:1", MONDAY)
    assert (decision.granted, decision.reason, decision.holder) == (True, "granted", "ann")


@pytest.mark.parametrize(
    ("change", "badge", "now", "reason"),
    [
        ({}, "12:999", MONDAY, "unknown_badge"),
        ({"badges": [{"number": "12:1", "lost": True}]}, "12:1", MONDAY, "lost_badge"),
        ({"disabled": True}, "12:1", MONDAY, "user_disabled"),
        ({"grants": [{"room": "west-stack"}]}, "12:1", MONDAY, "no_permission"),
        ({"grants": [{"room": ROOM, "valid_from": "2026-12-01"}]}, "12:1", MONDAY, "not_yet_valid"),
        ({"grants": [{"room": ROOM, "valid_until": "2026-11-22"}]}, "12:1", MONDAY, "expired"),
        ({}, "12:1", at("2026-11-23 19:30"), "outside_hours"),
        ({}, "12:1", at("2026-11-22 10:00"), "outside_hours"),  # a Sunday
    ],
)
def test_every_refusal_says_why(change, badge, now, reason):
    r = rules({**holder("ann", "12:1"), **change})
    decision = r.decide(ROOM, DOOR, "outside", badge, now)
    assert (decision.granted, decision.reason) == (False, reason)
    assert reason in decision.message


def test_validity_dates_are_inclusive_and_a_grant_without_windows_is_any_time():
    r = rules(holder("ann", "12:1", grants=[{"room": ROOM, "valid_from": "2026-11-23", "valid_until": "2026-11-23"}]))
    assert r.decide(ROOM, DOOR, "outside", "12:1", at("2026-11-23 23:59")).granted
    assert r.decide(ROOM, DOOR, "outside", "12:1", at("2026-11-24 00:00")).reason == "expired"


def test_without_a_document_every_badge_is_refused():
    decision = AccessRules(ZONE).decide(ROOM, DOOR, "outside", "12:1", MONDAY)
    assert (decision.granted, decision.reason) == (False, "no_permissions")


TWO = {ROOM: {"two_person": True, "window_s": 30}}


def test_two_person_room_opens_for_two_different_badges_within_the_window():
    r = rules(holder("ann", "12:1"), holder("bob", "12:2"), rooms=TWO)
    first = r.decide(ROOM, DOOR, "outside", "12:1", MONDAY)
    assert (first.granted, first.reason) == (False, "waiting_second_person")
    again = r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 5)  # the same person twice is still one person
    assert again.reason == "waiting_second_person"
    second = r.decide(ROOM, DOOR, "outside", "12:2", MONDAY + 20)
    assert (second.granted, second.reason, second.together_with) == (True, "granted", ("ann",))


def test_two_person_window_expires():
    r = rules(holder("ann", "12:1"), holder("bob", "12:2"), rooms=TWO)
    r.decide(ROOM, DOOR, "outside", "12:1", MONDAY)
    late = r.decide(ROOM, DOOR, "outside", "12:2", MONDAY + 31)
    assert (late.granted, late.reason) == (False, "waiting_second_person")


def test_an_unauthorised_second_badge_does_not_count():
    r = rules(holder("ann", "12:1"), holder("eve", "12:3", grants=[]), rooms=TWO)
    r.decide(ROOM, DOOR, "outside", "12:1", MONDAY)
    assert r.decide(ROOM, DOOR, "outside", "12:3", MONDAY + 3).reason == "no_permission"
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 6).reason == "waiting_second_person"


def test_a_visitor_opens_only_with_a_staff_badge():
    r = rules(holder("ann", "12:1"), holder("vis", "99:1", kind="visitor"))
    alone = r.decide(ROOM, DOOR, "outside", "99:1", MONDAY)
    assert (alone.granted, alone.reason) == (False, "visitor_needs_staff")
    with_staff = r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 4)
    assert (with_staff.granted, with_staff.together_with) == (True, ("vis",))


def test_two_visitors_do_not_make_a_two_person_entry():
    r = rules(holder("ann", "12:1"), holder("v1", "99:1", kind="visitor"), holder("v2", "99:2", kind="visitor"))
    r.decide(ROOM, DOOR, "outside", "99:1", MONDAY)
    assert r.decide(ROOM, DOOR, "outside", "99:2", MONDAY + 2).reason == "visitor_needs_staff"


def test_anti_passback_wants_people_to_leave_before_they_enter_again():
    r = rules(holder("ann", "12:1"), rooms={ROOM: {"anti_passback": True}})
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY).granted
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 60).reason == "anti_passback"
    leave = r.decide(ROOM, DOOR, "inside", "12:1", MONDAY + 120)
    assert (leave.granted, leave.reason) == (True, "exit")
    assert r.decide(ROOM, DOOR, "inside", "12:1", MONDAY + 130).reason == "anti_passback"
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 180).granted


def test_a_new_document_takes_effect_at_once():
    r = rules(holder("ann", "12:1"))
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY).granted
    r.use(document([{**holder("ann", "12:1"), "badges": [{"number": "12:1", "lost": True}]}], version=2))
    assert r.decide(ROOM, DOOR, "outside", "12:1", MONDAY + 1).reason == "lost_badge"


def test_the_document_signature_covers_every_field():
    doc = document([holder("ann", "12:1")])
    assert doc.verify(KEY)
    assert not doc.verify(b"x" * 32)
    forged = doc.model_copy(update={"holders": [protocol.Holder(id="eve", badges=[protocol.BadgeEntry(number="1:1")])]})
    assert not forged.verify(KEY)
    assert protocol.PermissionDocument.model_validate_json(doc.to_json()).verify(KEY)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"windows": [{"days": [0], "start": "18:00", "end": "08:00"}]}, "end must be after start"),
        ({"windows": [{"days": [7], "start": "08:00", "end": "09:00"}]}, "days"),
        ({"windows": [{"days": [0], "start": "8:00", "end": "09:00"}]}, "start"),
        ({"valid_from": "soon"}, "valid_from"),
    ],
)
def test_a_malformed_document_is_refused_naming_the_field(bad, says):
    raw = {"version": 1, "issued": "2026-11-01T00:00:00Z", "site": "demo", "holders": [holder("a", "1:1")]}
    raw["holders"][0]["grants"] = [{"room": ROOM, **bad}]
    with pytest.raises(protocol.ProtocolError, match=says):
        protocol.parse("storeroom/demo/gw-east/cmd/permissions", json.dumps({"v": 1, **raw}).encode())
    with pytest.raises(ValidationError):
        protocol.PermissionDocument.model_validate_json(json.dumps(raw))


def test_the_document_topic_is_classified_apart_from_commands():
    doc = document([holder("ann", "12:1")])
    message = protocol.parse(protocol.Topics("demo", "gw-east").permissions, doc.to_json())
    assert message.kind == "permissions" and message.payload == doc
    assert datetime(2026, 11, 1, tzinfo=UTC) == message.payload.issued


def test_every_reason_is_documented_for_integrators():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    missing = [r for r in protocol.ACCESS_REASONS if f"| `{r}`" not in text and f"`{r}` |" not in text]
    assert missing == []
    example = text[text.index('{"v":1,"version":7') :].split("```")[0]
    assert protocol.PermissionDocument.model_validate_json(example.replace("3f9c…", "0" * 64)).version == 7
