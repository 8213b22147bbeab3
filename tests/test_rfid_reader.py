"""The `mfrc522` package and the reader service against the register-level MFRC522 model.

The package runs unchanged: it talks SPI frames to the modelled chip, which talks ISO 14443-3 frames to
modelled MIFARE Classic 1K and NTAG21x cards in its field. Tests move cards in and out of the field.
"""

from __future__ import annotations

import pytest

from rfid import media, tagformat
from rfid.cards import ClassicCard, NtagCard
from rfid.reader import ReaderFault, TagRead
from rfid.sim_reader import simulated_reader
from rfid.writer import WriteError, write

KEY = bytes(range(32))
KEYS = {1: KEY}
CLASSIC_UID = bytes.fromhex("A1B2C3D4")
NTAG_UID = bytes.fromhex("04112233445566")


@pytest.fixture
def desk():
    reader, field, chip = simulated_reader("desk", "desk-1", KEYS, 1, device=0, reset_pin=25)
    return reader, field, chip


def enrolled(reader, field, card, code: str, kind: str = "dossier"):
    """Write a storeroom tag onto a blank `card` through `reader`, as enrolment does, and take it away."""
    payload = tagformat.encode(kind, code, card.uid, 1, KEY)
    field.enter(card)
    write(reader, card.uid, media.plan(payload, card.uid, media.media_for(card.uid), KEY))
    field.leave(card)
    return card


def reads(events):
    return [e for e in events if isinstance(e, TagRead)]


# -- the package itself, against the model --------------------------------------------------------


def selected(device, field, card: ClassicCard) -> list[int]:
    """`card` laid on the reader and selected through the package, as its own read and write do first; its UID."""
    field.enter(card)
    device.MFRC522_Request(device.PICC_REQIDL)
    _, uid = device.MFRC522_Anticoll()
    device.MFRC522_SelectTag(uid)
    return uid


def test_the_package_reads_and_writes_a_classic_card(desk):
    reader, field, _ = desk
    device = reader.device
    field.enter(ClassicCard(CLASSIC_UID))
    status, bits = device.MFRC522_Request(device.PICC_REQIDL)
    assert (status, bits) == (device.MI_OK, 16)  # ATQA: 16 bits
    status, uid = device.MFRC522_Anticoll()
    assert status == device.MI_OK and bytes(uid[:4]) == CLASSIC_UID
    assert device.MFRC522_SelectTag(uid) == 0x08  # SAK of a Classic 1K
    assert device.MFRC522_Auth(device.PICC_AUTHENT1A, 4, [0xFF] * 6, uid) == device.MI_OK
    device.MFRC522_Write(4, list(range(16)))
    assert device.MFRC522_Read(4) == list(range(16))


def test_a_data_block_that_starts_with_the_halt_byte_is_written_not_taken_for_halt(desk):
    # HLTA is exactly 50 00; a block of data that happens to begin with 0x50 is data (once in ~128 enrolments).
    reader, field, _ = desk
    device = reader.device
    uid = selected(device, field, ClassicCard(CLASSIC_UID))
    assert device.MFRC522_Auth(device.PICC_AUTHENT1A, 5, [0xFF] * 6, uid) == device.MI_OK
    block = [0x50, 0x00, *range(14)]
    device.MFRC522_Write(5, block)
    assert device.MFRC522_Read(5) == block


def test_the_package_is_refused_with_a_wrong_key(desk):
    reader, field, _ = desk
    device = reader.device
    uid = selected(device, field, ClassicCard(CLASSIC_UID))
    assert device.MFRC522_Auth(device.PICC_AUTHENT1A, 4, [0x00] * 6, uid) == device.MI_ERR


def test_removal_mid_read_is_a_clean_error_for_the_package(desk):
    reader, field, _ = desk
    device = reader.device
    card = ClassicCard(CLASSIC_UID)
    uid = selected(device, field, card)
    device.MFRC522_Auth(device.PICC_AUTHENT1A, 4, [0xFF] * 6, uid)
    field.leave(card)
    assert device.MFRC522_Read(4) is None


def test_two_cards_collide_in_the_packages_anticollision(desk):
    reader, field, chip = desk
    device = reader.device
    field.enter(ClassicCard(CLASSIC_UID))
    field.enter(ClassicCard(bytes.fromhex("A1B2C3D5")))
    device.MFRC522_Request(device.PICC_REQIDL)
    status, _ = device.MFRC522_Anticoll()
    assert status == device.MI_ERR
    assert chip.regs[0x0E] & 0x1F == 25  # CollReg: the first differing bit of the UID, counted from 1


# -- the reader service -------------------------------------------------------------------------


@pytest.mark.parametrize(("card", "media_name"), [(ClassicCard(CLASSIC_UID), "classic"), (NtagCard(NTAG_UID), "ntag")])
def test_a_tag_is_reported_once_per_presentation(desk, card, media_name):
    reader, field, _ = desk
    enrolled(reader, field, card, "A001-2026-00042")
    field.enter(card)
    first = reads(reader.poll())
    assert [(e.valid, e.kind, e.code, e.uid) for e in first] == [
        (True, "dossier", "A001-2026-00042", card.uid.hex().upper())
    ]
    assert all(reads(reader.poll()) == [] for _ in range(5))  # still held on the reader
    field.leave(card)
    reader.poll()  # one missed poll is not a removal ...
    field.enter(card)
    assert reads(reader.poll()) == []
    field.leave(card)
    reader.poll(), reader.poll()  # ... two are
    field.enter(card)
    assert [e.code for e in reads(reader.poll())] == ["A001-2026-00042"]


def test_a_written_classic_tag_is_locked_against_the_default_key(desk):
    reader, field, _ = desk
    card = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    field.enter(card)
    with pytest.raises(WriteError, match="not blank"):
        write(reader, card.uid, media.plan(tagformat.encode("dossier", "B002", card.uid, 1, KEY), card.uid,
                                           "classic1k", KEY))  # fmt: skip


def test_a_written_ntag_refuses_writes_without_its_password(desk):
    reader, field, _ = desk
    card = enrolled(reader, field, NtagCard(NTAG_UID), "A001")
    field.enter(card)
    with pytest.raises(WriteError, match="page 4"):
        write(reader, card.uid, [media.Write(4, b"XXXX")])


def test_a_tag_copied_onto_another_card_reads_as_forged(desk):
    reader, field, _ = desk
    genuine = enrolled(reader, field, NtagCard(NTAG_UID), "A001")
    copy = NtagCard(bytes.fromhex("04998877665544"))
    copy.pages[4:16] = [bytearray(p) for p in genuine.pages[4:16]]  # a cloning phone copies the data pages
    field.enter(copy)
    (event,) = reads(reader.poll())
    assert (event.valid, event.reason) == (False, "bad_mac")


def test_a_blank_card_reads_as_not_a_tag(desk):
    reader, field, _ = desk
    field.enter(ClassicCard(CLASSIC_UID))
    (event,) = reads(reader.poll())
    assert (event.valid, event.reason, event.uid) == (False, "not_a_tag", "A1B2C3D4")


def test_removal_mid_read_asks_to_hold_the_tag_still_and_reads_it_next_time(desk):
    reader, field, _ = desk
    card = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    field.enter(card)
    field.leave_after_frames(card, 4)  # it answers wake-up, anticollision, select and auth, then is gone
    (event,) = reads(reader.poll())
    assert (event.valid, event.reason) == (False, "incomplete_read")
    field.enter(card)
    assert [e.code for e in reads(reader.poll())] == ["A001"]


def test_two_tags_at_once_are_one_collision_event_until_the_field_clears(desk):
    reader, field, _ = desk
    a = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    b = enrolled(reader, field, ClassicCard(bytes.fromhex("A1B2C3D5")), "A002")
    field.enter(a), field.enter(b)
    assert [e.reason for e in reads(reader.poll())] == ["collision"]
    assert reads(reader.poll()) == []
    field.leave(b)
    assert [e.code for e in reads(reader.poll())] == ["A001"]


def test_a_garbled_answer_is_retried_on_the_next_poll(desk):
    reader, field, _ = desk
    card = enrolled(reader, field, NtagCard(NTAG_UID), "A001")
    field.enter(card)
    field.garble_frames = 1
    assert reads(reader.poll()) == []
    assert [e.code for e in reads(reader.poll())] == ["A001"]
    assert reader.counts["frame_errors"] == 1


def test_a_chip_that_stops_answering_is_reset_and_that_is_reported(desk):
    reader, field, chip = desk
    card = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    chip.dead = True
    faults = [e for e in reader.poll() if isinstance(e, ReaderFault)]
    assert len(faults) == 1 and "VersionReg reads 0x00" in faults[0].detail
    assert not chip.dead  # the reset pin brought it back
    field.enter(card)
    events = reader.poll()
    assert [e.recovered for e in events if isinstance(e, ReaderFault)] == [True]
    assert [e.code for e in reads(events)] == ["A001"]


def test_two_readers_on_ce0_and_ce1_see_their_own_fields(desk):
    reader, field, _ = desk
    door, door_field, _ = simulated_reader("door", "door-east", KEYS, 1, device=1, reset_pin=24)
    card = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    door_field.enter(card)
    assert reads(reader.poll()) == []
    (event,) = reads(door.poll())
    assert (event.reader, event.location, event.code) == ("door", "door-east", "A001")


def test_an_spi_error_is_a_fault_event_and_the_reader_goes_on(desk):
    reader, field, chip = desk
    card = enrolled(reader, field, ClassicCard(CLASSIC_UID), "A001")
    chip.spi_errors = 1
    (fault,) = [e for e in reader.poll() if isinstance(e, ReaderFault)]
    assert "SPI error: [Errno 5] Input/output error" in fault.detail and not fault.recovered
    field.enter(card)
    events = reader.poll()
    assert [e.recovered for e in events if isinstance(e, ReaderFault)] == [True]
    assert [e.code for e in reads(events)] == ["A001"]
