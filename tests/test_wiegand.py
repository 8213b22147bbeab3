"""The door's hardware layer: Wiegand frames and their receiver on mock pins, and the door access config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware import wiegand
from hardware.config import ConfigError, from_dict
from hardware.wiegand_sim import SimulatedWiegandReader

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
ROOM, DOOR = "east-stack", "entrance"


# -- Wiegand ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bits", "facility", "card"), [(26, 12, 1001), (26, 255, 65535), (34, 40000, 7), (26, 0, 0)])
def test_wiegand_frames_round_trip(bits, facility, card):
    frame = wiegand.encode(facility, card, bits)
    assert len(frame) == bits
    assert wiegand.decode(frame) == wiegand.Credential(bits, facility, card)


def test_wiegand_26_matches_a_published_frame():
    # Facility 1, card 1: even parity 1 (one 1 in the first 12 data bits), odd parity 0 (one 1 in the last 12).
    assert "".join(map(str, wiegand.encode(1, 1))) == "1" + "000000010000" + "000000000001" + "0"


@pytest.mark.parametrize("flip", [0, 5, 12, 13, 20, 25])
def test_a_flipped_bit_anywhere_fails_parity(flip):
    frame = wiegand.encode(12, 1001)
    frame[flip] ^= 1
    with pytest.raises(wiegand.WiegandError) as refused:
        wiegand.decode(frame)
    assert refused.value.reason == "bad_parity"


@pytest.mark.parametrize("length", [0, 4, 25, 27, 35])
def test_frames_of_other_lengths_are_refused(length):
    with pytest.raises(wiegand.WiegandError, match=f"{length} bits") as refused:
        wiegand.decode([0] * length)
    assert refused.value.reason == "bad_length"


def test_the_receiver_reads_a_simulated_reader_in_real_time_and_refuses_bad_parity():
    pins = MockFactory()
    reader = SimulatedWiegandReader(pins, 5, 12)
    frames = []
    receiver = wiegand.WiegandReceiver(5, 12, frames.append, pin_factory=pins)
    try:
        reader.present(12, 1001)
        assert receiver.idle(2.0)
        reader.present(12, 1001, flip=7)
        assert receiver.idle(2.0)
        reader.present(300, 2, bits=34)
        assert receiver.idle(2.0)
    finally:
        receiver.close()
    assert frames[0] == wiegand.Credential(26, 12, 1001)
    assert isinstance(frames[1], wiegand.WiegandError) and frames[1].reason == "bad_parity"
    assert frames[2] == wiegand.Credential(34, 300, 2)


# -- config ----------------------------------------------------------------------------------------


def raw_demo() -> dict:
    return tomllib.loads(DEMO.read_text(encoding="utf-8"))


def entrance(raw: dict) -> dict:
    east = next(r for r in raw["rooms"] if r["id"] == ROOM)
    return next(d for d in east["doors"] if d["id"] == DOOR)["access"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda a: a["strike"].update(pin=17), r"access\.strike\.pin: GPIO17 .* already used"),
        (lambda a: a["strike"].update(fail_mode="fail-open"), r"fail_mode"),
        (lambda a: a["strike"].pop("fail_mode"), r"strike\.fail_mode: missing"),
        (lambda a: a["readers"][1].update(side="outside"), r"one reader per side"),
        (lambda a: a["readers"][0].update(d1_pin=5), r"needs two lines"),
        (lambda a: a["readers"].append({"kind": "rfid", "id": "desk", "side": "inside"}), r"no RFID reader 'desk'"),
        (lambda a: a.update(held_open_s=1), r"held_open_s"),
    ],
)
def test_door_access_config_is_validated_naming_the_key(change, says):
    raw = raw_demo()
    change(entrance(raw))
    if len(entrance(raw)["readers"]) > 2:
        entrance(raw)["readers"].pop(1)
    with pytest.raises(ConfigError, match=says):
        from_dict(raw, Path("site.toml"))
