"""The tag format: every valid tag round-trips; anything else is refused with the reason that fits.

Property-based (hypothesis) where the claim is "for every ...", plus the command line as people use it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rfid import media, tagformat
from rfid.tagformat import MAX_CODE_BYTES, TagError, decode, encode

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
KEYS = {1: KEY}

uids = st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=7, max_size=7))
kinds = st.sampled_from(list(tagformat.KINDS))
codes = st.text(
    st.characters(blacklist_categories=("C", "Zs", "Zl", "Zp")), min_size=1, max_size=MAX_CODE_BYTES
).filter(lambda c: len(c.encode()) <= MAX_CODE_BYTES)


def reason(uid: bytes, data: bytes, keys: dict[int, bytes] = KEYS) -> str:
    with pytest.raises(TagError) as refused:
        decode(uid, data, keys)
    return refused.value.reason


@given(uids, kinds, codes)
def test_every_valid_tag_round_trips(uid, kind, code):
    payload = encode(kind, code, uid, 1, KEY)
    tag = decode(uid, payload + b"\0" * 20, KEYS)  # what a reader gets: the blocks, padding and all
    assert (tag.kind, tag.code, tag.key_id, tag.uid) == (kind, code, 1, uid)


@given(uids, st.binary(max_size=64))
def test_random_bytes_are_never_a_tag_and_never_crash(uid, data):
    with pytest.raises(TagError) as refused:
        decode(uid, data, KEYS)
    assert refused.value.reason in tagformat.REASONS


@given(uids, kinds, codes, st.data())
def test_a_truncated_read_is_refused(uid, kind, code, data):
    payload = encode(kind, code, uid, 1, KEY)
    cut = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    assert reason(uid, payload[:cut]) in {"not_a_tag", "truncated"}


@given(uids, kinds, codes, st.data())
def test_a_flipped_bit_is_caught(uid, kind, code, data):
    payload = bytearray(encode(kind, code, uid, 1, KEY))
    bit = data.draw(st.integers(min_value=0, max_value=len(payload) * 8 - 1))
    payload[bit // 8] ^= 1 << (bit % 8)
    # A flip in the header may change what the bytes claim to be; anywhere else the CRC catches it.
    assert reason(uid, bytes(payload)) in {"not_a_tag", "unsupported_version", "bad_code", "truncated", "bad_crc"}


@given(uids, kinds, codes, codes)
def test_an_edited_code_with_a_recomputed_crc_fails_the_signature(uid, kind, code, forged):
    assume(forged != code)
    genuine = encode(kind, code, uid, 1, KEY)
    # The forger knows the format and the CRC, not the key: they re-sign with a key of their own.
    forgery = encode(kind, forged, uid, 1, OTHER_KEY)
    assert genuine != forgery
    assert reason(uid, forgery) == "bad_mac"


@given(uids, uids, kinds, codes)
def test_data_copied_onto_another_tag_fails_the_signature(uid, other, kind, code):
    assume(uid != other)
    assert reason(other, encode(kind, code, uid, 1, KEY)) in {"bad_mac", "bad_uid"}


def test_a_tag_signed_with_a_key_the_site_does_not_have_says_which_key():
    payload = encode("badge", "E-0042", bytes(4), 7, KEY)
    with pytest.raises(TagError, match="signed with key 7"):
        decode(bytes(4), payload, KEYS)
    assert decode(bytes(4), payload, {1: KEY, 7: KEY}).code == "E-0042"  # after a rotation both keys read


@pytest.mark.parametrize(
    ("code", "why"),
    [("", "empty"), ("x" * 33, "at most 32"), (" A001", "surrounding spaces"), ("A\n001", "control characters")],
)
def test_codes_that_cannot_go_on_a_tag_are_refused_when_encoding(code, why):
    with pytest.raises(TagError, match=why):
        encode("dossier", code, bytes(4), 1, KEY)


def test_a_chinese_code_fits_as_utf8():
    code = "档号-2026-0007"  # 16 bytes of UTF-8
    assert decode(bytes(7), encode("dossier", code, bytes(7), 1, KEY), KEYS).code == code


# -- where the payload goes and how it is locked ----------------------------------------------


def test_classic_access_bits_let_only_key_b_write_and_nobody_read_the_keys():
    # NXP's encoding of data blocks C1C2C3 = 100 and trailer 011: the well-known 78 77 88.
    assert media.access_bits(media.DATA_READ_AB_WRITE_B, media.TRAILER_KEYS_WRITE_B) == bytes.fromhex("78778869")
    assert media.access_bits((0, 0, 0), (0, 0, 1)) == bytes.fromhex("FF078069")  # the transport configuration


def test_classic_plan_fills_sector_one_and_writes_the_trailer_last():
    uid = bytes.fromhex("04A1B2C3")
    writes = media.plan(encode("dossier", "A001", uid, 1, KEY), uid, "classic1k", KEY)
    assert [w.address for w in writes] == [4, 5, 6, 7]
    key_a, key_b = media.classic_keys(KEY, uid)
    assert writes[-1].data == key_a + bytes.fromhex("78778869") + key_b
    assert key_a != media.DEFAULT_KEY and media.classic_keys(KEY, bytes(4))[0] != key_a  # per tag


def test_ntag_plan_writes_data_then_password_then_auth0():
    uid = bytes.fromhex("04112233445566")
    writes = media.plan(encode("location", "R1-A-03-2", uid, 1, KEY), uid, "ntag215", KEY)
    assert [w.address for w in writes] == [*range(4, 16), 0x85, 0x86, 0x84, 0x83]
    assert writes[-1].data[3] == 4  # AUTH0: pages from 4 on need the password to be written


# -- the command line ---------------------------------------------------------------------------


def storeroom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storeroom", "rfid", *args], capture_output=True, text=True)


def site_args(site) -> list[str]:
    return ["--config", str(site.source)]


def test_encode_then_decode_through_the_command_line(site):
    answer = storeroom("encode", "A001-2026-00042", "--uid", "04:A1:B2:C3", "--json", *site_args(site))
    assert answer.returncode == 0, answer.stderr
    encoded = json.loads(answer.stdout)
    assert [w["block"] for w in encoded["writes"]] == [4, 5, 6, 7]
    decoded = storeroom("decode", "--uid", "04A1B2C3", encoded["payload"], *site_args(site))
    assert json.loads(decoded.stdout) == {
        "valid": True, "kind": "dossier", "code": "A001-2026-00042", "key_id": 1, "uid": "04A1B2C3", "version": 1
    }  # fmt: skip
    assert (site.storage.secrets / "rfid-1.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("uid", "data", "says"),
    [
        ("04A1B2C3", "zz", "invalid tag: data 'zz' is not hexadecimal"),
        ("04A1B2C3", "", "invalid tag: not_a_tag"),
        ("04A1B2C3", "00" * 48, "invalid tag: not_a_tag"),
        ("0102", "5352", "invalid tag: bad_uid"),
        ("04A1B2C3", "5352" + "ff" * 60, "invalid tag: unsupported_version"),
    ],
)
def test_decode_of_bad_bytes_is_one_line_and_exit_2(site, uid, data, says):
    answer = storeroom("decode", "--uid", uid, data, *site_args(site))
    assert answer.returncode == 2
    assert answer.stderr.strip().startswith(says) and len(answer.stderr.strip().splitlines()) == 1
    assert "Traceback" not in answer.stderr and answer.stdout == ""
