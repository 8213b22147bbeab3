"""The gateway's outbox: durable, numbered, ordered, and never reusing a seq."""

from __future__ import annotations

import json

import pytest

from gateway.outbox import Outbox


def put_text(box: Outbox, text: str) -> int:
    return box.put("storeroom/s/g/event/x", lambda seq: json.dumps({"seq": seq, "text": text}).encode())


def test_seq_starts_at_one_and_rises(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    assert [put_text(box, t) for t in "abc"] == [1, 2, 3]
    assert box.last_seq() == 3


def test_payload_is_built_with_its_own_seq(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    put_text(box, "a")
    (message,) = box.after(0, 10)
    assert json.loads(message.payload) == {"seq": 1, "text": "a"}


def test_messages_come_out_oldest_first_after_a_given_seq(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    for t in "abcde":
        put_text(box, t)
    assert [m.seq for m in box.after(2, 2)] == [3, 4]


def test_delivered_messages_are_forgotten_but_their_seq_is_never_reused(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    seqs = [put_text(box, t) for t in "ab"]
    box.delivered(seqs)
    assert box.pending() == 0
    assert put_text(box, "c") == 3


def test_seq_and_pending_messages_survive_a_restart(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    put_text(box, "a")
    box.delivered([put_text(box, "b")])
    box.close()

    again = Outbox(tmp_path / "outbox.db")
    assert [m.seq for m in again.after(0, 10)] == [1]
    assert put_text(again, "c") == 3


def test_the_outbox_file_is_in_wal_mode(tmp_path):
    Outbox(tmp_path / "outbox.db").close()
    header = (tmp_path / "outbox.db").read_bytes()[:20]
    assert header[18:20] == b"\x02\x02"  # file format read/write version 2 = WAL


def test_session_counter_rises_and_persists(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    assert [box.next_session(), box.next_session()] == [1, 2]
    box.close()
    assert Outbox(tmp_path / "outbox.db").next_session() == 3


def test_a_message_can_be_marked_historical_when_it_is_sent(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    put_text(box, "a")
    (message,) = box.after(0, 1)
    assert json.loads(message.as_historical()) == {"seq": 1, "text": "a", "historical": True}


def test_a_failing_payload_builder_leaves_no_row_and_no_gap(tmp_path):
    box = Outbox(tmp_path / "outbox.db")

    def broken(seq: int) -> bytes:
        raise ValueError("no payload")

    with pytest.raises(ValueError):
        box.put("t", broken)
    assert box.pending() == 0
    assert put_text(box, "a") == 1
