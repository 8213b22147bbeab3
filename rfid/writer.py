"""Writing a tag through a reader: the plan of rfid/media.py, block by block or page by page, then read back.

Used by enrolment (rfid/enrol.py) and the tests. A blank MIFARE Classic opens with the
default key; an NTAG takes writes freely until its AUTH0 page is written, which comes last in the plan.
"""

from __future__ import annotations

from rfid import media
from rfid.cards import ACK, PWD_AUTH, WRITE_CLASSIC, WRITE_NTAG, crc_a
from rfid.reader import Reader
from rfid.registers import CRYPTO1_ON, STATUS2


class WriteError(RuntimeError):
    """The tag refused or lost a write; the message says which block or page."""


def write(reader: Reader, uid: bytes, writes: list[media.Write], *, unlock_with: bytes | None = None) -> None:
    """Put `writes` on the tag with `uid`, which must be alone on `reader`.

    A blank tag takes them as it is. A tag this site locked before needs `unlock_with`, the site key that
    wrote it: its derived Classic key B, or its derived NTAG password, opens it for writing.
    """
    found, _ = reader.select()
    if found != uid:
        raise WriteError(
            f"expected tag {uid.hex().upper()} on the reader, found {found.hex().upper() if found else 'none'}"
        )
    try:
        if len(uid) == 4:
            _classic(reader, uid, writes, unlock_with)
        else:
            if unlock_with is not None:
                password, pack = media.ntag_password(unlock_with, uid)
                frame = bytes([PWD_AUTH]) + password
                answer = reader.transceive(frame + crc_a(frame))
                if answer is None or answer[:2] != pack:
                    raise WriteError("the tag refused the site's password: it was locked by another site or key")
            for w in writes:
                _ack(reader, bytes([WRITE_NTAG, w.address]) + w.data, f"page {w.address}")
    finally:
        reader.device.MFRC522_StopCrypto1()
        reader.halt()


def _classic(reader: Reader, uid: bytes, writes: list[media.Write], unlock_with: bytes | None) -> None:
    device = reader.device
    if unlock_with is None:
        mode, key = device.PICC_AUTHENT1A, media.DEFAULT_KEY
    else:
        mode, key = device.PICC_AUTHENT1B, media.classic_keys(unlock_with, uid)[1]
    device.MFRC522_Auth(mode, media.CLASSIC_TRAILER, list(key), list(uid))
    if not device.Read_MFRC522(STATUS2) & CRYPTO1_ON:
        raise WriteError("sector 1 does not open with the default key: the tag is not blank (or not ours to rewrite)")
    for w in writes:
        _ack(reader, bytes([WRITE_CLASSIC, w.address]), f"block {w.address}")
        _ack(reader, w.data, f"block {w.address} data")


def _ack(reader: Reader, frame: bytes, what: str) -> None:
    answer = reader.transceive(frame + crc_a(frame))
    if answer is None or len(answer) != 1 or answer[0] & 0x0F != ACK:
        raise WriteError(f"{what}: the tag did not acknowledge ({answer!r})")
