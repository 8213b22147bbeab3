"""Where a storeroom tag lives on each kind of card, and how it is locked against rewriting.

MIFARE Classic 1K: the 48-byte payload fills sector 1 (blocks 4, 5, 6); the sector trailer (block 7) gets
key A (read), key B (write) and access bits that let key A or B read the data and only key B write it
(and let nobody read the keys back). NTAG213/215/216: the payload fills pages 4-15; a 4-byte password
(PWD, with its 2-byte PACK) protects every page from 4 on against writing, reads stay free (AUTH0 = 4,
PROT = 0). Access-bit and configuration-page layouts are NXP's (MF1S50yyX datasheet section 8.7; NTAG213/
215/216 datasheet section 8.5).

Keys and passwords are derived per tag from the site key and the tag's UID (HMAC-SHA256, as HKDF's expand
step does), so the keys of one tag, if read off a reader, open no other tag, and nothing is in the code.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from rfid.tagformat import MAX_PAYLOAD_BYTES

Media = Literal["classic1k", "ntag213", "ntag215", "ntag216"]
MEDIA: tuple[Media, ...] = ("classic1k", "ntag213", "ntag215", "ntag216")
CLASSIC_SECTOR = 1
CLASSIC_BLOCKS = (4, 5, 6)
CLASSIC_TRAILER = 7
NTAG_FIRST_PAGE = 4
NTAG_CFG0 = {"ntag213": 0x29, "ntag215": 0x83, "ntag216": 0xE3}
"""CFG0's page per type; CFG1, PWD and PACK follow it."""
NTAG_MIRROR_DEFAULT = 0x04
DEFAULT_KEY = bytes.fromhex("FFFFFFFFFFFF")
"""The key every new Classic card and every phone app knows."""


def derive(site_key: bytes, purpose: str, uid: bytes, size: int) -> bytes:
    return hmac.new(site_key, b"storeroom/" + purpose.encode() + b"/" + uid, hashlib.sha256).digest()[:size]


def access_bits(data: tuple[int, int, int], trailer: tuple[int, int, int]) -> bytes:
    """Bytes 6-9 of a Classic sector trailer for access conditions (C1, C2, C3) per block (NXP's encoding:
    each bit stored once inverted and once plain, so a torn write is detected)."""
    blocks = [data, data, data, trailer]
    c1, c2, c3 = ([b[i] for b in blocks] for i in range(3))

    def nibble(bits: list[int]) -> int:
        return sum(bit << i for i, bit in enumerate(bits))

    inv = lambda bits: [1 - b for b in bits]  # noqa: E731
    return bytes(
        [
            nibble(inv(c2)) << 4 | nibble(inv(c1)),
            nibble(c1) << 4 | nibble(inv(c3)),
            nibble(c3) << 4 | nibble(c2),
            0x69,  # general-purpose byte, as NXP ships it
        ]
    )


DATA_READ_AB_WRITE_B = (1, 0, 0)
TRAILER_KEYS_WRITE_B = (0, 1, 1)
"""Keys readable by nobody, writable with key B; access bits readable with A or B, writable with B."""


@dataclass(frozen=True)
class Write:
    """One block (Classic, 16 bytes) or page (NTAG, 4 bytes) to write, in this order."""

    address: int
    data: bytes
    note: str = ""


def classic_keys(site_key: bytes, uid: bytes) -> tuple[bytes, bytes]:
    return derive(site_key, "classic-key-a", uid, 6), derive(site_key, "classic-key-b", uid, 6)


def ntag_password(site_key: bytes, uid: bytes) -> tuple[bytes, bytes]:
    return derive(site_key, "ntag-pwd", uid, 4), derive(site_key, "ntag-pack", uid, 2)


def media_for(uid: bytes) -> Media:
    """The usual card for a UID's size: 4 bytes a Classic 1K, 7 bytes an NTAG (213 unless told)."""
    return "classic1k" if len(uid) == 4 else "ntag213"


def plan(payload: bytes, uid: bytes, media: Media, site_key: bytes) -> list[Write]:
    """The writes that put `payload` on a blank card and lock it; the lock comes last."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{len(payload)} bytes do not fit the {MAX_PAYLOAD_BYTES} reserved on the tag")
    padded = payload.ljust(MAX_PAYLOAD_BYTES, b"\0")
    if media == "classic1k":
        if len(uid) != 4:
            raise ValueError("a MIFARE Classic 1K has a 4-byte UID")
        key_a, key_b = classic_keys(site_key, uid)
        writes = [Write(b, padded[i * 16 : (i + 1) * 16], "data") for i, b in enumerate(CLASSIC_BLOCKS)]
        trailer = key_a + access_bits(DATA_READ_AB_WRITE_B, TRAILER_KEYS_WRITE_B) + key_b
        return [*writes, Write(CLASSIC_TRAILER, trailer, "sector trailer: key A, access bits, key B")]
    if media not in NTAG_CFG0:
        raise ValueError(f"unknown media {media!r} (one of {', '.join(MEDIA)})")
    if len(uid) != 7:
        raise ValueError("an NTAG21x has a 7-byte UID")
    pwd, pack = ntag_password(site_key, uid)
    cfg0 = NTAG_CFG0[media]
    writes = [Write(NTAG_FIRST_PAGE + i, padded[i * 4 : i * 4 + 4], "data") for i in range(MAX_PAYLOAD_BYTES // 4)]
    return [
        *writes,
        Write(cfg0 + 2, pwd, "PWD"),
        Write(cfg0 + 3, pack + b"\0\0", "PACK"),
        Write(cfg0 + 1, bytes([0x00, 0, 0, 0]), "CFG1: ACCESS, PROT = 0 (writes need the password)"),
        Write(cfg0, bytes([NTAG_MIRROR_DEFAULT, 0, 0, NTAG_FIRST_PAGE]), "CFG0: AUTH0 = 4"),
    ]
