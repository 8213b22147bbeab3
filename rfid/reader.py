"""The reader service: one MFRC522 at a shelf, desk or door, polled without ever blocking the gateway.

Built on the `mfrc522` package's `MFRC522` class for the chip's registers, its initialisation and MIFARE
authentication, but with its own transceive, for two reasons found in the package (0.0.7):
`MFRC522_ToCard` ignores the timer interrupt, so every poll without a card spins 2000 SPI reads (what
makes `SimpleMFRC522.read()` take a core), and it returns at most 16 bytes, dropping the CRC_A of a
READ answer that must be checked. The package also has no cascade level 2, so 7-byte UIDs (NTAG) are
selected here.

Each `poll()` wakes the field (WUPA, so a tag read and halted before still answers), runs anticollision
and selection through both cascade levels, and either notes that the same tag is still there or reads
and checks it (docs/TAGS.md). A tag is reported once per presentation: again only after it was away for
`ABSENT_POLLS` polls in a row, so one missed poll does not repeat it. Every poll starts by reading the
chip's VersionReg; a chip that stops answering is reset through its reset pin and re-initialised, and
that is an event too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rfid import media, tagformat
from rfid.cards import CASCADE_TAG, HALT, READ, SEL_CL1, SEL_CL2, WUPA, bcc, crc_a
from rfid.registers import (
    BIT_FRAMING,
    COLL_ERR,
    COM_IEN,
    COM_IRQ,
    COMMAND,
    CRYPTO1_ON,
    ERROR,
    FIFO_DATA,
    FIFO_LEVEL,
    IDLE,
    IDLE_IRQ,
    RX_IRQ,
    STATUS2,
    TIMER_IRQ,
    TRANSCEIVE,
    VERSION,
)

log = logging.getLogger(__name__)

KNOWN_VERSIONS = {0x88, 0x90, 0x91, 0x92, 0x12, 0xB2}
"""VersionReg of MFRC522 1.0 and 2.0 and of the common clones (FM17522)."""
ABSENT_POLLS = 2
IRQ_POLLS = 100
"""Reads of ComIrqReg before a transceive is given up (the chip's own timer fires within ~25 ms)."""
ERRORS_THAT_SPOIL = 0x1B  # BufferOvfl, CollErr, ParityErr, ProtocolErr


class Collision(Exception):
    """Two tags answered at once."""


class FrameError(Exception):
    """A garbled answer: parity, protocol or CRC error."""


class ChipFault(Exception):
    """The chip does not behave: no interrupt, a wrong version, an SPI error."""


@dataclass(frozen=True)
class TagRead:
    """What a presentation of a tag gives the gateway (and the dashboard)."""

    reader: str
    location: str
    uid: str
    valid: bool
    kind: str | None = None
    code: str | None = None
    reason: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ReaderFault:
    reader: str
    location: str
    detail: str
    recovered: bool = False


@dataclass
class Reader:
    """One reader. `device` is an `mfrc522.MFRC522`; `gpio` the RPi.GPIO module (for the reset pin)."""

    name: str
    location: str
    device: Any
    gpio: Any
    reset_pin: int
    keys: dict[int, bytes]
    signing_key_id: int
    present: dict[bytes, int] = field(default_factory=dict)
    """UIDs seen and reported, with the polls since they last answered."""
    faulty: bool = False
    collision: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    # -- one poll -------------------------------------------------------------------------------

    def poll(self) -> list[TagRead | ReaderFault]:
        """Look at the field once; the events this poll produced (usually none). Never raises."""
        events: list[TagRead | ReaderFault] = []
        try:
            self._check_chip()
            if self.faulty:
                self.faulty = False
                events.append(ReaderFault(self.name, self.location, "the chip answers again", recovered=True))
            events.extend(self._look())
        except ChipFault as exc:
            self._count("faults")
            if not self.faulty:
                self.faulty = True
                events.append(ReaderFault(self.name, self.location, str(exc)))
                log.warning("reader %s: %s; resetting the chip", self.name, exc)
            self._reset_chip()
        return events

    def _look(self) -> list[TagRead]:
        for uid in list(self.present):
            self.present[uid] += 1
        try:
            uid, sak = self.select()
        except Collision:
            self._count("collisions")
            self._power_cycle_field()
            if self.collision:
                return []
            self.collision = True
            return [TagRead(self.name, self.location, "", False, reason="collision", detail="two tags in the field")]
        except FrameError as exc:
            self._count("frame_errors")
            log.debug("reader %s: %s", self.name, exc)
            self._power_cycle_field()
            return []
        self.collision = False
        if uid is not None and uid in self.present:  # still on the reader: reported already
            self.present[uid] = 0
            self._forget_absent()
            self.halt()
            return []
        self._forget_absent()
        if uid is None:
            return []
        try:
            data = self.read_payload(uid, sak)
        except (FrameError, _NoAnswer) as exc:
            self._count("incomplete_reads")
            return [TagRead(self.name, self.location, uid.hex().upper(), False, reason="incomplete_read",
                            detail=f"the tag left or was garbled mid-read ({exc}); hold it still")]  # fmt: skip
        finally:
            self.device.MFRC522_StopCrypto1()
        self.halt()
        self.present[uid] = 0
        try:
            tag = tagformat.decode(uid, data, self.keys)
        except tagformat.TagError as exc:
            self._count("invalid")
            return [TagRead(self.name, self.location, uid.hex().upper(), False, reason=exc.reason, detail=str(exc))]
        self._count("tags")
        return [TagRead(self.name, self.location, uid.hex().upper(), True, tag.kind, tag.code)]

    def _forget_absent(self) -> None:
        for uid, missed in list(self.present.items()):
            if missed >= ABSENT_POLLS:
                del self.present[uid]

    # -- ISO 14443-3: wake, anticollision, select -------------------------------------------------

    def select(self) -> tuple[bytes | None, int]:
        """(UID, SAK) of the one tag in the field, or (None, 0) when there is none."""
        if self.transceive(bytes([WUPA]), bits=7) is None:
            return None, 0
        uid, sak = b"", 0
        for level in (SEL_CL1, SEL_CL2):
            answer = self.transceive(bytes([level, 0x20]))
            if answer is None or len(answer) != 5 or bcc(answer[:4]) != answer[4]:
                raise FrameError(f"anticollision at level {level:#x} answered {answer!r}")
            frame = bytes([level, 0x70]) + answer
            sak_answer = self.transceive(frame + crc_a(frame))
            if sak_answer is None or len(sak_answer) != 3 or crc_a(sak_answer[:1]) != sak_answer[1:]:
                raise FrameError("no valid SAK")
            sak = sak_answer[0]
            if answer[0] == CASCADE_TAG and sak & 0x04:
                uid += answer[1:4]
                continue
            return uid + answer[:4], sak
        raise FrameError("the UID did not complete within two cascade levels")

    def halt(self) -> None:
        frame = bytes([HALT, 0x00])
        self.transceive(frame + crc_a(frame))

    # -- reading the payload ----------------------------------------------------------------------

    def read_payload(self, uid: bytes, sak: int) -> bytes:
        size = tagformat.MAX_PAYLOAD_BYTES
        if len(uid) == 4:  # MIFARE Classic: authenticate for sector 1, then its three data blocks
            self._authenticate(uid)
            return b"".join(self._read(block) for block in media.CLASSIC_BLOCKS)[:size]
        pages = range(media.NTAG_FIRST_PAGE, media.NTAG_FIRST_PAGE + size // 4, 4)
        return b"".join(self._read(page) for page in pages)[:size]

    def _authenticate(self, uid: bytes) -> None:
        """Key A derived from each site key (the signing one first), then the default key of a blank card."""
        order = sorted(self.keys, key=lambda k: k != self.signing_key_id)
        candidates = [media.classic_keys(self.keys[k], uid)[0] for k in order] + [media.DEFAULT_KEY]
        for key in candidates:
            self.device.MFRC522_Auth(self.device.PICC_AUTHENT1A, media.CLASSIC_TRAILER, list(key), list(uid))
            if self.device.Read_MFRC522(STATUS2) & CRYPTO1_ON:
                return
            # A failed authentication ends the card's session: wake and select it again for the next key.
            again, _ = self.select()
            if again != uid:
                raise _NoAnswer("the tag left during authentication")
        raise FrameError("no site key opens sector 1: not one of this site's tags")

    def _read(self, address: int) -> bytes:
        frame = bytes([READ, address])
        answer = self.transceive(frame + crc_a(frame))
        if answer is None:
            raise _NoAnswer(f"no answer to READ {address}")
        if len(answer) != 18 or crc_a(answer[:16]) != answer[16:]:
            raise FrameError(f"READ {address} answered {len(answer)} bytes failing CRC_A")
        return answer[:16]

    # -- the chip -------------------------------------------------------------------------------------

    def transceive(self, data: bytes, bits: int = 0) -> bytes | None:
        """Send a frame; the answer's bytes, or None when no tag answered before the chip's timer."""
        d = self.device
        try:
            d.Write_MFRC522(COMMAND, IDLE)
            d.Write_MFRC522(COM_IEN, 0x77 | 0x80)
            d.Write_MFRC522(COM_IRQ, 0x7F)  # clear every interrupt bit
            d.Write_MFRC522(FIFO_LEVEL, 0x80)  # flush the FIFO
            for byte in data:
                d.Write_MFRC522(FIFO_DATA, byte)
            d.Write_MFRC522(BIT_FRAMING, bits & 0x07)
            d.Write_MFRC522(COMMAND, TRANSCEIVE)
            d.Write_MFRC522(BIT_FRAMING, 0x80 | (bits & 0x07))
            for _ in range(IRQ_POLLS):
                irq = d.Read_MFRC522(COM_IRQ)
                if irq & (RX_IRQ | IDLE_IRQ | TIMER_IRQ):
                    break
            else:
                raise ChipFault("the chip raised no interrupt for a transceive")
            d.Write_MFRC522(BIT_FRAMING, 0x00)
            if not irq & RX_IRQ:
                return None
            error = d.Read_MFRC522(ERROR)
            if error & COLL_ERR:
                raise Collision()
            if error & ERRORS_THAT_SPOIL:
                raise FrameError(f"ErrorReg {error:#04x}")
            count = d.Read_MFRC522(FIFO_LEVEL)
            return bytes(d.Read_MFRC522(FIFO_DATA) for _ in range(count))
        except OSError as exc:
            raise ChipFault(f"SPI error: {exc}") from None

    def _power_cycle_field(self) -> None:
        """Antenna off and on: every card drops back to idle, so a half-done anticollision cannot linger."""
        self.device.AntennaOff()
        self.device.AntennaOn()

    def _check_chip(self) -> None:
        try:
            version = self.device.Read_MFRC522(VERSION)
        except OSError as exc:
            raise ChipFault(f"SPI error: {exc}") from None
        if version not in KNOWN_VERSIONS:
            raise ChipFault(f"VersionReg reads {version:#04x}: the chip does not answer")

    def _reset_chip(self) -> None:
        try:
            self.gpio.output(self.reset_pin, 0)
            self.gpio.output(self.reset_pin, 1)
            self.device.MFRC522_Init()
        except Exception as exc:  # a reader that cannot even be reset stays faulty and is tried next poll
            log.warning("reader %s: reset failed: %s", self.name, exc)
        self.present.clear()

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


class _NoAnswer(Exception):
    """The tag stopped answering."""
