"""Enrolment: write a dossier, location or badge code onto the tag on a reader, and read it back to prove it.

A tag that already holds a different valid code of this site is not overwritten unless forced, and the
refusal says what it holds; a tag that already holds this very code is left as it is. A tag written by
this site before is unlocked with the key that wrote it (its derived Classic key B or NTAG password).
"""

from __future__ import annotations

from dataclasses import dataclass

from rfid import media, tagformat
from rfid.reader import FrameError, Reader
from rfid.tagformat import Kind
from rfid.writer import WriteError, write


class EnrolError(RuntimeError):
    """Enrolment did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class Enrolled:
    code: str
    kind: str
    uid: str
    media: str
    replaced: str | None = None
    """The code the tag held before, when it was overwritten."""
    unchanged: bool = False
    """The tag already held this code: nothing was written."""


def current(reader: Reader, uid: bytes, sak: int) -> tagformat.Tag | None:
    """What the tag holds now: a valid tag of this site, or None (blank, foreign, unreadable with our keys)."""
    try:
        return tagformat.decode(uid, reader.read_payload(uid, sak), reader.keys)
    except (tagformat.TagError, FrameError):
        return None
    finally:
        reader.device.MFRC522_StopCrypto1()
        reader.halt()


def enrol(reader: Reader, code: str, kind: Kind, key_id: int, key: bytes, *, force: bool = False) -> Enrolled:
    """Write `code` onto the one tag on `reader`, signed with the site key (`key_id`, `key`), and verify it."""
    tagformat.check_code(code)
    uid, sak = reader.select()
    if uid is None:
        raise EnrolError("no tag on the reader: lay the tag on it and try again")
    chosen = media.media_for(uid)
    held = current(reader, uid, sak)
    if held and (held.code, held.kind) == (code, kind):
        return Enrolled(code, kind, uid.hex().upper(), chosen, unchanged=True)
    if held and not force:
        raise EnrolError(
            f"the tag {uid.hex().upper()} already holds {held.kind} {held.code}; use --force to overwrite it"
        )
    payload = tagformat.encode(kind, code, uid, key_id, key)
    unlock = reader.keys.get(held.key_id) if held else None
    try:
        write(reader, uid, media.plan(payload, uid, chosen, key), unlock_with=unlock)
    except WriteError as exc:
        raise EnrolError(f"writing failed: {exc}") from None
    found, sak = reader.select()
    check = current(reader, uid, sak) if found == uid else None
    if check is None or check.code != code:
        raise EnrolError("the tag did not read back as written: keep it still on the reader and enrol it again")
    reader.present.pop(uid, None)
    return Enrolled(code, kind, uid.hex().upper(), chosen, replaced=held.code if held else None)
