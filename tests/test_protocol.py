"""The wire protocol: what a valid message is, and the reason given for each kind of invalid one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway import protocol

TS = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
TOPICS = protocol.Topics("demo", "gw-east")
EAST = TOPICS.telemetry("east-stack", "dht-1")


def reading(**changes) -> dict:
    document = json.loads(
        protocol.Reading(
            id="a1", seq=7, ts=TS, room="east-stack", sensor="dht-1", state="ok", temperature_c=20.5, humidity_rh=55.0
        ).to_json()
    )
    document.update(changes)
    return document


def parse(document, topic=EAST) -> protocol.Message:
    return protocol.parse(topic, json.dumps(document).encode())


def reason(topic: str, payload: bytes) -> str:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse(topic, payload)
    return caught.value.reason


def test_a_reading_round_trips_with_its_topic():
    message = parse(reading())
    assert (message.site, message.gateway, message.kind) == ("demo", "gw-east", "telemetry")
    assert message.payload.humidity_rh == 55.0
    assert message.payload.ts == TS
    assert message.payload.historical is False


def test_timestamps_are_utc_iso_8601():
    assert reading()["ts"] == "2026-11-22T08:00:00Z"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_object"),
        (json.dumps(reading(v=2)).encode(), "unknown_version"),
        (json.dumps(reading(v="1")).encode(), "unknown_version"),
        (json.dumps(reading(humidity_rh="55")).encode(), "invalid"),
        (json.dumps(reading(seq=True)).encode(), "invalid"),
        (json.dumps(reading(humidity_rh=140.0)).encode(), "invalid"),
        (json.dumps(reading(extra_field=1)).encode(), "invalid"),
        (json.dumps(reading(room="west-stack")).encode(), "topic_mismatch"),
        (b"{" + b" " * protocol.MAX_PAYLOAD_BYTES + b"}", "too_large"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(payload, expected):
    assert reason(TOPICS.telemetry("east-stack", "dht-1"), payload) == expected


@pytest.mark.parametrize(
    "topic",
    ["storeroom/demo", "other/demo/gw-east/status", "storeroom/demo/gw-east/telemetry/x", "storeroom/demo/gw/cmd/BAD!"],
)
def test_topics_outside_the_protocol_are_refused(topic):
    assert reason(topic, b"{}") == "bad_topic"


def test_the_error_names_the_field_that_was_wrong():
    with pytest.raises(protocol.ProtocolError, match="humidity_rh"):
        parse(reading(humidity_rh="wet"))


def test_status_needs_no_seq():
    message = protocol.parse(TOPICS.status, protocol.Status(state="offline", session=3).to_json())
    assert message.payload.session == 3


def test_command_and_ack_topics_are_told_apart():
    command = protocol.Command(id="c1", ts=TS, by="admin")
    assert protocol.parse(TOPICS.cmd("rebirth"), command.to_json()).kind == "cmd"
    ack = protocol.Ack(id="a", seq=1, ts=TS, command="rebirth", command_id="c1", ok=True)
    assert protocol.parse(TOPICS.ack("rebirth"), ack.to_json()).kind == "ack"
