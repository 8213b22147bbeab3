"""The storeroom tag: what a dossier, location or badge tag holds, and how a reader proves it genuine.

The layout is written down for people in docs/TAGS.md; this module is its one implementation. In short:

    "SR" | version | kind | key id | code length | code (UTF-8) | MAC (8) | CRC-16 (2)

- the MAC is HMAC-SHA256 over the tag's UID and everything before the MAC, keyed by the site key that
  `key id` names, truncated to 8 bytes: data edited on a tag, or copied onto another tag (another UID),
  no longer matches it. Keys rotate: tags carry the id of the key that signed them.
- the CRC (CRC-16/CCITT-FALSE, `binascii.crc_hqx` with 0xFFFF) covers header, code and MAC, so a garbled
  read is told apart from a forgery.
- the code is the dossier code (档号), location code or badge number: at most MAX_CODE_BYTES of UTF-8, no
  control characters, no surrounding spaces. Nothing about the person is on the tag.

`decode` never raises anything but TagError, whatever the bytes, and TagError.reason is one of REASONS.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from typing import Literal

MAGIC = b"SR"
VERSION = 1
MAX_CODE_BYTES = 32
MAC_BYTES = 8
CRC_BYTES = 2
HEADER_BYTES = len(MAGIC) + 4  # version, kind, key id, code length
MAX_PAYLOAD_BYTES = HEADER_BYTES + MAX_CODE_BYTES + MAC_BYTES + CRC_BYTES  # 48: three Classic blocks

Kind = Literal["dossier", "location", "badge"]
KINDS: dict[Kind, int] = {"dossier": 1, "location": 2, "badge": 3}
KIND_NAMES = {number: name for name, number in KINDS.items()}

REASONS = (
    "not_a_tag",
    "unsupported_version",
    "bad_kind",
    "truncated",
    "bad_crc",
    "unknown_key",
    "bad_mac",
    "bad_code",
    "bad_uid",
)


class TagError(ValueError):
    """Why bytes are not a valid tag; `reason` is one of REASONS, the message says it for a person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Tag:
    kind: Kind
    code: str
    key_id: int
    uid: bytes
    version: int = VERSION

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": True,
            "kind": self.kind,
            "code": self.code,
            "key_id": self.key_id,
            "uid": self.uid.hex().upper(),
            "version": self.version,
        }


def check_uid(uid: bytes) -> bytes:
    """A MIFARE UID: 4 bytes (single size, Classic) or 7 (double size, NTAG)."""
    if len(uid) not in (4, 7):
        raise TagError("bad_uid", f"a UID has 4 or 7 bytes, not {len(uid)}")
    return uid


def check_code(code: str) -> bytes:
    """The code as it goes on the tag, or TagError saying what is wrong with it."""
    data = code.encode("utf-8")
    if not data:
        raise TagError("bad_code", "the code is empty")
    if len(data) > MAX_CODE_BYTES:
        raise TagError("bad_code", f"the code takes {len(data)} bytes of UTF-8; at most {MAX_CODE_BYTES} fit")
    if code != code.strip() or any(unicodedata.category(c).startswith("C") for c in code):
        raise TagError("bad_code", f"the code {code!r} has control characters or surrounding spaces")
    return data


def _mac(key: bytes, uid: bytes, signed: bytes) -> bytes:
    return hmac.new(key, uid + signed, hashlib.sha256).digest()[:MAC_BYTES]


def _crc(data: bytes) -> bytes:
    return binascii.crc_hqx(data, 0xFFFF).to_bytes(CRC_BYTES, "big")


def encode(kind: Kind, code: str, uid: bytes, key_id: int, key: bytes) -> bytes:
    """The payload for a tag with this UID, signed with the site key `key` (whose id is `key_id`)."""
    if kind not in KINDS:
        raise TagError("bad_kind", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 0 < key_id < 256:
        raise ValueError(f"key id {key_id} is not 1-255")
    data = check_code(code)
    check_uid(uid)
    signed = MAGIC + bytes([VERSION, KINDS[kind], key_id, len(data)]) + data
    body = signed + _mac(key, uid, signed)
    return body + _crc(body)


def decode(uid: bytes, data: bytes, keys: dict[int, bytes]) -> Tag:
    """The tag in `data` (as read from the tag's first user block or page on; padding after it is ignored),
    checked against its UID and the site's keys by id."""
    check_uid(uid)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise TagError("not_a_tag", "no storeroom tag data (blank, or another application's)")
    if len(data) < HEADER_BYTES:
        raise TagError("truncated", f"{len(data)} bytes is shorter than the {HEADER_BYTES}-byte header")
    version, kind, key_id, length = data[2], data[3], data[4], data[5]
    if version != VERSION:
        raise TagError("unsupported_version", f"layout version {version}; this software reads version {VERSION}")
    if length == 0 or length > MAX_CODE_BYTES:
        raise TagError("bad_code", f"code length {length} is not 1-{MAX_CODE_BYTES}")
    end = HEADER_BYTES + length + MAC_BYTES
    if len(data) < end + CRC_BYTES:
        raise TagError("truncated", f"{len(data)} bytes, but the header announces {end + CRC_BYTES}")
    body = data[:end]
    if not hmac.compare_digest(_crc(body), data[end : end + CRC_BYTES]):
        raise TagError("bad_crc", "the data fails its CRC: a garbled read, or a damaged tag")
    if kind not in KIND_NAMES:
        raise TagError("bad_kind", f"kind {kind} is not one of {sorted(KIND_NAMES)}")
    key = keys.get(key_id)
    if key is None:
        raise TagError("unknown_key", f"signed with key {key_id}, which this site does not have")
    signed, mac = body[: HEADER_BYTES + length], body[HEADER_BYTES + length :]
    if not hmac.compare_digest(_mac(key, uid, signed), mac):
        raise TagError("bad_mac", "the signature does not match: the data was changed, or copied from another tag")
    try:
        code = signed[HEADER_BYTES:].decode("utf-8")
        check_code(code)
    except (UnicodeDecodeError, TagError) as exc:  # signed by us, yet not a code: written by a broken writer
        raise TagError("bad_code", f"the code is not valid: {exc}") from None
    return Tag(KIND_NAMES[kind], code, key_id, uid, version)
