"""The dashboard's store: every message taken in once, gaps in seq shown until filled, bad input refused
with its reason and counted, and nothing after it lost. Real SQLite files; messages built with the wire
protocol's own models, as a gateway builds them."""

from __future__ import annotations

import doctest
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

import dashboard.store
from dashboard.schema import LATEST, MIGRATIONS, version
from dashboard.store import KEEP_REJECTS, StorageError, Store
from gateway import protocol

TS = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
EAST = protocol.Topics("demo", "gw-east")
WEST = protocol.Topics("demo", "gw-west")
READING_TOPIC = EAST.telemetry("east-stack", "dht-1")


def reading(seq: int, *, humidity: float | None = 55.0, ts: datetime | None = None, **fields) -> protocol.Reading:
    values = {"temperature_c": 20.5, "humidity_rh": humidity} if humidity is not None else {}
    return protocol.Reading(
        id=f"r{seq}",
        seq=seq,
        ts=ts or TS + timedelta(seconds=seq),
        room="east-stack",
        sensor="dht-1",
        state="ok" if humidity is not None else "failed",
        **{**values, **fields},
    )


def event(seq: int, kind: str, device: str, data: dict[str, protocol.Scalar]) -> protocol.Event:
    return protocol.Event(
        id=f"e{seq}", seq=seq, ts=TS + timedelta(seconds=seq), kind=kind, room="east-stack", device=device, data=data
    )


def relay(seq: int, on: bool) -> protocol.Event:
    return event(seq, "relay", "dehum-1", {"on": on, "kind": "dehumidifier"})


def status(state: str, session: int) -> bytes:
    return protocol.Status(state=state, session=session, ts=TS).to_json()


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "dashboard.db") as opened:
        yield opened


def send(store: Store, *messages: protocol.Reading | protocol.Event) -> list[str]:
    """Ingest sequenced messages on their proper topics; return each outcome."""
    outcomes = []
    for m in messages:
        topic = EAST.telemetry(m.room, m.sensor) if isinstance(m, protocol.Reading) else EAST.event(m.kind)
        outcomes.append(
            store.ingest(topic, m.to_json(), received=TS + timedelta(seconds=m.seq, milliseconds=5)).outcome
        )
    return outcomes


def rows(store: Store, sql: str, *params) -> list[tuple]:
    return store.db.execute(sql, params).fetchall()


def stored_seqs(store: Store) -> list[int]:
    return [r[0] for r in rows(store, "SELECT seq FROM messages WHERE gateway = 'gw-east' ORDER BY seq")]


def gaps(store: Store) -> list[tuple[int, int]]:
    return rows(store, "SELECT first, last FROM gaps WHERE gateway = 'gw-east' ORDER BY first")


def gateway(store: Store, gateway_id: str = "gw-east") -> dict:
    return next(g for g in store.gateways(TS) if g["id"] == gateway_id)


def room(store: Store, room_id: str = "east-stack", now: datetime = TS) -> dict:
    return next(r for r in store.rooms(now) if r["id"] == room_id)


# -- taking messages in -----------------------------------------------------------------------------


def test_a_reading_is_stored_with_its_fields_and_becomes_the_room_s_climate(store):
    assert send(store, reading(1, humidity=58.6)) == ["accepted"]
    assert rows(
        store, "SELECT site, gateway, seq, room, sensor, ts, temperature_c, humidity_rh, state FROM readings"
    ) == [("demo", "gw-east", 1, "east-stack", "dht-1", "2026-11-22T08:00:01.000000Z", 20.5, 58.6, "ok")]
    east = room(store, now=TS + timedelta(seconds=13))
    assert (east["temperature_c"], east["humidity_rh"], east["state"], east["age_s"]) == (20.5, 58.6, "ok", 12.0)
    assert east["stale"] is False


def test_a_repeated_seq_is_counted_as_a_duplicate_and_changes_nothing(store):
    send(store, reading(1), reading(2), event(3, "door", "main-door", {"open": True}))
    tables = ("messages", "readings", "events", "sensors", "devices", "rooms", "gaps")
    before = {t: rows(store, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables}

    # Retransmissions after a reconnect: same messages, now marked historical.
    again = [reading(2).model_copy(update={"historical": True}), event(3, "door", "main-door", {"open": True})]
    assert send(store, *again) == ["duplicate", "duplicate"]

    assert {t: rows(store, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables} == before
    assert (gateway(store)["messages"], gateway(store)["duplicates"]) == (3, 2)
    assert store.ingest_stats()["duplicates"] == 2


def test_a_reused_seq_with_another_message_id_is_a_conflict_and_the_first_message_stays(store):
    send(store, reading(1, humidity=50.0))
    impostor = reading(1, humidity=70.0).model_copy(update={"id": "other"})
    result = store.ingest(READING_TOPIC, impostor.to_json())
    assert (result.outcome, result.reason) == ("conflict", "seq_reused")
    assert rows(store, "SELECT m.id, humidity_rh FROM readings JOIN messages m USING (site, gateway, seq)") == [
        ("r1", 50.0)
    ]
    assert store.ingest_stats()["conflicts"] == 1


def test_a_jump_in_seq_opens_a_gap_that_late_messages_shrink_split_and_close(store):
    send(store, reading(1), reading(2), reading(9))
    assert gaps(store) == [(3, 8)]
    assert gateway(store)["missing"] == 6

    send(store, reading(3))  # the front of the gap arrives
    assert gaps(store) == [(4, 8)]
    send(store, reading(8))  # the back
    assert gaps(store) == [(4, 7)]
    send(store, reading(6))  # the middle: the gap splits in two
    assert gaps(store) == [(4, 5), (7, 7)]
    send(store, reading(4), reading(5), reading(7))
    assert gaps(store) == []
    assert stored_seqs(store) == list(range(1, 10))
    assert gateway(store)["last_seq"] == 9


def test_gaps_are_kept_per_gateway(store):
    send(store, reading(1), reading(5))
    west = protocol.Reading(id="w", seq=3, ts=TS, room="west-stack", sensor="dht-1", state="ok", humidity_rh=50.0)
    store.ingest(WEST.telemetry("west-stack", "dht-1"), west.to_json())
    assert [(g["id"], g["gaps"]) for g in store.gateways(TS)] == [
        ("gw-east", [{"first": 2, "last": 4, "missing": 3, "opened": "2026-11-22T08:00:05.005000Z"}]),
        ("gw-west", []),
    ]


def test_the_first_message_heard_from_a_gateway_starts_its_history_without_a_gap(store):
    send(store, reading(500), reading(501))
    assert gaps(store) == []
    assert gateway(store)["last_seq"] == 501


def test_a_late_reading_fills_the_history_but_does_not_replace_the_latest(store):
    send(store, reading(1, humidity=50.0), reading(3, humidity=52.0))
    send(store, reading(2, humidity=90.0))
    assert room(store)["humidity_rh"] == 52.0
    assert len(rows(store, "SELECT * FROM readings")) == 3


def test_a_failing_sensor_keeps_its_last_good_value_which_grows_stale(store):
    send(store, reading(1, humidity=57.0), reading(2, humidity=None, error="A full buffer was not returned"))
    east = room(store, now=TS + timedelta(seconds=61))
    assert (east["humidity_rh"], east["state"], east["age_s"], east["stale"]) == (57.0, "failed", 60.0, False)
    assert east["sensors"][0]["error"] == "A full buffer was not returned"
    later = room(store, now=TS + timedelta(seconds=1 + 121))
    assert later["stale"] is True


def test_the_age_of_a_reading_from_an_unset_clock_counts_from_its_arrival(store):
    unset = reading(1, ts=datetime(1970, 1, 1, tzinfo=UTC), synced=False)
    store.ingest(READING_TOPIC, unset.to_json(), received=TS)
    east = room(store, now=TS + timedelta(seconds=5))
    assert (east["age_s"], east["stale"], east["synced"]) == (5.0, False, False)


def test_a_reading_is_never_younger_than_its_arrival_even_if_the_gateway_clock_runs_ahead(store):
    ahead = reading(1, ts=TS + timedelta(hours=1))
    store.ingest(READING_TOPIC, ahead.to_json(), received=TS)
    assert room(store, now=TS + timedelta(seconds=150))["stale"] is True


def test_a_room_with_two_sensors_shows_the_latest_value_and_the_worse_state(store):
    other = protocol.Reading(
        id="b2", seq=2, ts=TS, room="east-stack", sensor="dht-2", state="failed", error="checksum did not validate"
    )
    send(store, reading(1, humidity=51.0))
    store.ingest(EAST.telemetry("east-stack", "dht-2"), other.to_json())
    east = room(store)
    assert (east["humidity_rh"], east["state"]) == (51.0, "failed")
    assert [(s["id"], s["state"], s["error"]) for s in east["sensors"]] == [
        ("dht-1", "ok", None),
        ("dht-2", "failed", "checksum did not validate"),
    ]


def test_relay_and_door_events_set_their_state_and_an_older_one_never_undoes_a_newer_one(store):
    send(store, relay(1, on=True), event(2, "door", "main-door", {"open": True}))
    east = room(store)
    assert east["relays"] == [
        {"id": "dehum-1", "type": "dehumidifier", "on": True, "changed": "2026-11-22T08:00:01.000000Z"}
    ]
    assert [(d["id"], d["open"]) for d in east["doors"]] == [("main-door", True)]

    send(store, event(5, "door", "main-door", {"open": False}))
    send(store, event(4, "door", "main-door", {"open": True}))  # late, from a gap: history only
    assert [(d["id"], d["open"]) for d in room(store)["doors"]] == [("main-door", False)]
    assert len(rows(store, "SELECT * FROM events WHERE kind = 'door'")) == 3


def test_a_badge_door_s_lock_comes_from_the_birth_and_strike_events_and_a_late_one_changes_nothing(store):
    entrance = protocol.DoorState(id="entrance", open=False, locked=True)
    birth = protocol.Birth(
        id="b1", seq=1, ts=TS, session=1, name="East", software="storeroom",
        rooms=[protocol.RoomState(id="east-stack", name="East stack", doors=[entrance])],
    )  # fmt: skip
    store.ingest(EAST.birth, birth.to_json())
    assert [(d["id"], d["open"], d["locked"]) for d in room(store)["doors"]] == [("entrance", False, True)]

    send(store, event(3, "strike", "entrance", {"locked": False}), event(4, "door", "entrance", {"open": True}))
    send(store, event(2, "strike", "entrance", {"locked": True}))  # late, from a gap: history only
    (door,) = room(store)["doors"]
    assert (door["open"], door["locked"], door["locked_changed"]) == (True, False, "2026-11-22T08:00:03.000000Z")
    send(store, event(5, "strike", "entrance", {"locked": True}))
    assert room(store)["doors"][0]["locked"] is True


def test_an_event_of_another_kind_is_stored_without_touching_devices(store):
    send(store, event(1, "device_error", "dht-1", {"state": "failed", "was": "ok"}))
    assert rows(store, "SELECT kind, device, data FROM events") == [
        ("device_error", "dht-1", json.dumps({"state": "failed", "was": "ok"}))
    ]
    assert rows(store, "SELECT * FROM devices") == []


def test_a_birth_announces_the_gateway_s_rooms_relays_and_doors(store):
    birth = protocol.Birth(
        id="b1",
        seq=1,
        ts=TS,
        session=4,
        name="East stack gateway",
        software="storeroom 0.1.0",
        rooms=[
            protocol.RoomState(
                id="east-stack",
                name="East stack",
                sensors=["dht-1"],
                relays=[protocol.RelayState(id="dehum-1", kind="dehumidifier", on=True)],
                doors=[protocol.DoorState(id="main-door", open=False)],
            )
        ],
    )
    assert store.ingest(EAST.birth, birth.to_json()).outcome == "accepted"
    east = room(store)
    assert (east["name"], east["gateway"]) == ("East stack", "gw-east")
    assert [(r["id"], r["type"], r["on"]) for r in east["relays"]] == [("dehum-1", "dehumidifier", True)]
    assert [(d["id"], d["open"]) for d in east["doors"]] == [("main-door", False)]
    assert [s["id"] for s in east["sensors"]] == ["dht-1"]
    assert (gateway(store)["name"], gateway(store)["software"]) == ("East stack gateway", "storeroom 0.1.0")


def test_an_ack_is_stored(store):
    ack = protocol.Ack(id="a1", seq=1, ts=TS, command="rebirth", command_id="c-1", ok=True, detail="done")
    assert store.ingest(EAST.ack("rebirth"), ack.to_json()).outcome == "accepted"
    assert rows(store, "SELECT command, command_id, ok, detail FROM acks") == [("rebirth", "c-1", 1, "done")]


def test_commands_to_gateways_pass_by_and_are_counted_as_ignored(store):
    command = protocol.Command(id="c-1", ts=TS, by="admin")
    result = store.ingest(EAST.cmd("rebirth"), command.to_json())
    assert (result.outcome, result.reason) == ("ignored", "command")
    assert store.ingest_stats()["ignored"] == {"command": 1}


# -- online and offline -----------------------------------------------------------------------------


def test_status_says_online_or_offline_since_when_it_changed(store):
    store.ingest(EAST.status, status("online", 3), received=TS)
    store.ingest(EAST.status, status("online", 3), received=TS + timedelta(minutes=5))  # retained, again
    east = gateway(store)
    assert (east["state"], east["online"], east["session"], east["since"]) == (
        "online",
        True,
        3,
        "2026-11-22T08:00:00.000000Z",
    )
    store.ingest(EAST.status, status("offline", 3), received=TS + timedelta(minutes=9))
    assert (gateway(store)["state"], gateway(store)["since"]) == ("offline", "2026-11-22T08:09:00.000000Z")


def test_a_late_will_from_an_older_session_is_ignored(store):
    store.ingest(EAST.status, status("online", 7))
    result = store.ingest(EAST.status, status("offline", 6))  # the Will of the connection before
    assert (result.outcome, result.reason) == ("ignored", "stale_status")
    assert (gateway(store)["state"], gateway(store)["session"]) == ("online", 7)
    assert store.ingest(EAST.status, status("offline", 7)).outcome == "accepted"
    assert gateway(store)["state"] == "offline"


# -- refusing bad input -----------------------------------------------------------------------------


def _reading_document(**changes) -> bytes:
    document = json.loads(reading(1).to_json())
    document.update(changes)
    return json.dumps(document).encode()


BAD_INPUT = {
    "malformed JSON": (READING_TOPIC, b'{"v": 1, "seq": ', "not_json"),
    "invalid UTF-8": (READING_TOPIC, b'{"v": 1, "room": "\xff\xfe"}', "not_json"),
    "non-object JSON": (READING_TOPIC, b'["v", 1]', "not_object"),
    "unknown version": (READING_TOPIC, _reading_document(v=2), "unknown_version"),
    "wrong types": (READING_TOPIC, _reading_document(humidity_rh="58.6"), "invalid"),
    "a missing field": (READING_TOPIC, _reading_document(seq=None), "invalid"),
    "oversized": (READING_TOPIC, b'{"v":1,"pad":"' + b"x" * protocol.MAX_PAYLOAD_BYTES + b'"}', "too_large"),
    "bad topic": ("storeroom/demo/gw-east/telemetry/east-stack", reading(1).to_json(), "bad_topic"),
    "topic/payload mismatch": (EAST.telemetry("west-stack", "dht-1"), reading(1).to_json(), "topic_mismatch"),
}


@pytest.mark.parametrize("case", BAD_INPUT.keys())
def test_bad_input_is_refused_with_its_reason_counted_kept_and_the_next_message_is_stored(store, case):
    topic, payload, reason = BAD_INPUT[case]
    result = store.ingest(topic, payload)
    assert (result.outcome, result.reason, result.stored) == ("refused", reason, False)
    assert result.detail  # a sentence that says what was wrong

    assert store.ingest_stats()["refused"] == {reason: 1}
    [kept] = store.recent_rejects()
    assert (kept["reason"], kept["size"]) == (reason, len(payload))
    assert len(kept["preview"].encode()) <= 4 * 200 + 3  # at most the first 200 bytes, escaped

    assert send(store, reading(2)) == ["accepted"]
    assert stored_seqs(store) == [2]


def test_a_refused_message_is_shown_safely(store):
    hostile = "\u202egnp.exe\x1b[31m\n".encode() + b"\xff" + b"A" * 300
    store.ingest("storeroom/demo/gw-east/\x07status/x", hostile)
    [kept] = store.recent_rejects()
    assert kept["preview"].startswith(r"\u202egnp.exe\x1b[31m\n\xffAAA")
    assert kept["preview"].endswith("A…")
    assert kept["topic"] == r"storeroom/demo/gw-east/\x07status/x"
    assert all(c.isprintable() for c in kept["preview"] + kept["topic"] + kept["message"])


def test_only_the_most_recent_rejects_are_kept_but_all_are_counted(store):
    for i in range(KEEP_REJECTS + 5):
        store.ingest(READING_TOPIC, f"junk {i}".encode())
    assert rows(store, "SELECT count(*) FROM rejects") == [(KEEP_REJECTS,)]
    assert store.recent_rejects(1)[0]["preview"] == f"junk {KEEP_REJECTS + 4}"
    assert store.ingest_stats()["refused"] == {"not_json": KEEP_REJECTS + 5}


def test_ingest_stats_count_every_outcome(store):
    send(store, reading(1), reading(1))
    store.ingest(READING_TOPIC, b"[]")
    store.ingest(READING_TOPIC, b"{")
    store.ingest(EAST.status, status("online", 1))
    assert store.ingest_stats() == {
        "accepted": 2,
        "duplicates": 1,
        "conflicts": 0,
        "ignored": {},
        "refused": {"not_json": 1, "not_object": 1},
        "refused_total": 2,
    }


# -- the config and the file ------------------------------------------------------------------------


def test_configured_rooms_and_gateways_are_shown_before_any_message(store, site):
    store.sync_config(site)
    rooms = store.rooms(TS)
    assert [(r["id"], r["name"], r["gateway"], r["gateway_state"]) for r in rooms] == [
        ("east-stack", "East stack (compact shelving)", "gw-east", "unknown"),
        ("west-stack", "West stack (fixed shelving)", "gw-west", "unknown"),
        ("outside", "Outside (north wall)", "gw-west", "unknown"),
    ]
    east = rooms[0]
    assert (east["temperature_c"], east["humidity_rh"], east["age_s"], east["stale"]) == (None, None, None, True)
    assert east["relays"] == [{"id": "dehum-1", "type": "dehumidifier", "on": None, "changed": None}]
    assert east["doors"] == [
        {"id": "entrance", "type": None, "open": None, "changed": None, "locked": None, "locked_changed": None},
        {"id": "main-door", "type": None, "open": None, "changed": None, "locked": None, "locked_changed": None},
    ]
    assert [(g["id"], g["name"], g["state"]) for g in store.gateways(TS)] == [
        ("gw-east", "East stack gateway", "unknown"),
        ("gw-west", "West stack gateway", "unknown"),
    ]


def test_the_configured_name_wins_over_the_one_a_birth_announces(store, site):
    store.sync_config(site)
    birth = protocol.Birth(
        id="b", seq=1, ts=TS, session=1, name="pi-7", rooms=[protocol.RoomState(id="east-stack", name="E")]
    )
    store.ingest(EAST.birth, birth.to_json())
    assert room(store)["name"] == "East stack (compact shelving)"
    assert gateway(store)["name"] == "East stack gateway"
    store.sync_config(site)  # again, on the next start: nothing doubles
    assert len(store.rooms(TS)) == 3


def test_the_database_is_in_wal_mode_and_migrated_once(tmp_path):
    path = tmp_path / "dashboard.db"
    Store(path).close()
    with Store(path) as again:
        assert again.db.journal_mode == "wal"
        assert version(again.db) == LATEST
        # Each engineer numbers migrations in a range of their own: the numbers need not be contiguous.
        assert rows(again, "SELECT id FROM migrations ORDER BY id") == sorted((n,) for n, _, _ in MIGRATIONS)


def test_a_read_only_store_reads_what_the_writer_wrote(tmp_path, store):
    send(store, reading(1))
    with Store(store.path, readonly=True) as reader:
        assert reader.rooms(TS)[0]["humidity_rh"] == 55.0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.db.execute("DELETE FROM readings")


def test_a_database_locked_by_another_writer_raises_storage_error_and_stores_nothing(tmp_path):
    path = tmp_path / "dashboard.db"
    with Store(path, busy_timeout_s=0.1) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageError, match="locked"):
            store.ingest(READING_TOPIC, reading(1).to_json())
        other.execute("ROLLBACK")
        other.close()
        assert send(store, reading(1)) == ["accepted"]  # delivered again: stored once


def test_the_docstring_examples_run():
    assert doctest.testmod(dashboard.store).failed == 0


def test_a_room_says_which_sensors_its_value_comes_from_and_a_late_message_changes_nothing(store, site):
    store.sync_config(site)

    def value(seq: int, used: list[str], mould: float) -> bytes:
        return protocol.RoomValue(
            id=f"v{seq}", seq=seq, ts=TS, room="east-stack", temperature_c=20.0, humidity_rh=55.0, used=used,
            mould_index=mould,
        ).to_json()  # fmt: skip

    store.ingest(EAST.climate("east-stack"), value(5, ["dht-1", "dht-2"], 0.12))
    store.ingest(EAST.climate("east-stack"), value(3, [], 0.0))  # older: history, not news
    assert (room(store)["used"], room(store)["mould_index"]) == (["dht-1", "dht-2"], 0.12)
    store.ingest(EAST.climate("east-stack"), value(6, [], 0.13))
    assert room(store)["used"] == []
