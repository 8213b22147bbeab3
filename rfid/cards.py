"""Cards in a reader's field, answering ISO/IEC 14443-3 type A frames as MIFARE Classic 1K and NTAG21x do.

Each card keeps its state (idle, ready, active, halted), its UID with its cascade levels, and its memory
map: Classic 1K with 16 sectors whose trailers hold keys A and B and access bits (checked as NXP's
MF1S50yyX datasheet section 8.7 says), NTAG213/215/216 with pages, the password and AUTH0/PROT
(NTAG213/215/216 datasheet sections 8.5 and 10). Crypto1 is modelled as key checking only: after a
successful authentication the frames are plain, as the MFRC522 hands them over once MFCrypto1On is set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

REQA, WUPA = 0x26, 0x52
SEL_CL1, SEL_CL2 = 0x93, 0x95
HALT = 0x50
READ = 0x30
WRITE_CLASSIC = 0xA0
WRITE_NTAG = 0xA2
PWD_AUTH = 0x1B
GET_VERSION = 0x60
AUTH_A, AUTH_B = 0x60, 0x61
CASCADE_TAG = 0x88
ACK = 0x0A
NAK = 0x00
TRANSPORT_TRAILER = bytes.fromhex("FFFFFFFFFFFF") + bytes.fromhex("FF078069") + bytes.fromhex("FFFFFFFFFFFF")

NTAG_PAGES = {"ntag213": 45, "ntag215": 135, "ntag216": 231}
NTAG_VERSION = {"ntag213": 0x0F, "ntag215": 0x11, "ntag216": 0x13}


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A (CRC-16, reflected polynomial 0x8408, preset 0x6363), low byte first.

    Written out because neither the standard library nor the project's dependencies have CRC_A
    (binascii.crc_hqx is the unreflected CCITT variant).
    """
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes([crc & 0xFF, crc >> 8])


def bcc(part: bytes) -> int:
    value = 0
    for byte in part:
        value ^= byte
    return value


@dataclass
class Answer:
    """A card's reply: bytes, and how many bits of the last byte are valid (0: all eight)."""

    data: bytes
    last_bits: int = 0


@dataclass
class Card:
    uid: bytes
    state: str = "idle"
    level: int = 0
    """Cascade levels selected so far."""

    @property
    def atqa(self) -> bytes:
        return bytes([0x44 if len(self.uid) == 7 else 0x04, 0x00])

    def levels(self) -> list[bytes]:
        """The UID as sent at each cascade level: 4 bytes, the first prefixed by the cascade tag for 7-byte UIDs."""
        if len(self.uid) == 4:
            return [self.uid]
        return [bytes([CASCADE_TAG]) + self.uid[:3], self.uid[3:7]]

    def sak(self, level: int) -> int:
        raise NotImplementedError

    # -- the ISO 14443-3 part, common to both ---------------------------------------------------

    def frame(self, data: bytes, bits: int) -> Answer | None:
        """Answer one frame (`bits` valid bits in its last byte, 0 for all); None: the card stays silent."""
        if bits == 7 and len(data) == 1 and data[0] in (REQA, WUPA):
            if self.state == "idle" or (data[0] == WUPA and self.state == "halted"):
                self.state, self.level = "ready", 0
                return Answer(self.atqa)
            return None
        if not data:
            return None
        if data[0] in (SEL_CL1, SEL_CL2) and self.state == "ready" and len(data) >= 2:
            return self._select(data)
        if self.state != "active":
            return None
        if len(data) < 3 or crc_a(data[:-2]) != data[-2:]:
            self.state = "idle"  # a corrupted command ends the session, as on a real card
            return None
        command = data[:-2]
        if command == bytes([HALT, 0x00]):  # HLTA is exactly these two bytes; a data block may start with 0x50
            self.state = "halted"
            return None
        return self.command(command)

    def _select(self, data: bytes) -> Answer | None:
        level = 0 if data[0] == SEL_CL1 else 1
        levels = self.levels()
        if level >= len(levels) or level != self.level:
            return None
        part = levels[level]
        if data[1] == 0x20:  # ANTICOLLISION: the whole level's UID and its BCC
            return Answer(part + bytes([bcc(part)]))
        if data[1] == 0x70 and len(data) == 9 and data[2:7] == part + bytes([bcc(part)]):
            if crc_a(data[:7]) != data[7:9]:
                return None
            sak = self.sak(level)
            self.level = level + 1
            if self.level == len(levels):
                self.state = "active"
            return Answer(bytes([sak]) + crc_a(bytes([sak])))
        return None

    def command(self, command: bytes) -> Answer | None:
        return None

    def reset(self) -> None:
        """The card left the field (or the field went off): it forgets everything but its memory."""
        self.state, self.level = "idle", 0

    def store(self, address: int, data: bytes) -> None:
        """Put `data` at a block or page directly, as a tag printer at the factory does (no access checks)."""
        raise NotImplementedError


def _with_crc(data: bytes) -> Answer:
    return Answer(data + crc_a(data))


@dataclass
class ClassicCard(Card):
    """MIFARE Classic 1K: 64 blocks of 16 bytes in 16 sectors; block 0 holds the UID."""

    memory: list[bytearray] = field(default_factory=list)
    authenticated: tuple[int, str] | None = None
    """(sector, "A" or "B") after a successful authentication."""
    pending_write: int | None = None

    def __post_init__(self) -> None:
        if len(self.uid) != 4:
            raise ValueError("a MIFARE Classic 1K has a 4-byte UID")
        if not self.memory:
            self.memory = [bytearray(16) for _ in range(64)]
            self.memory[0][:5] = self.uid + bytes([bcc(self.uid)])
            self.memory[0][5:8] = bytes([0x08, 0x04, 0x00])
            for sector in range(16):
                self.memory[sector * 4 + 3][:] = TRANSPORT_TRAILER

    def sak(self, level: int) -> int:
        return 0x08

    def store(self, address: int, data: bytes) -> None:
        self.memory[address][:] = data

    def reset(self) -> None:
        super().reset()
        self.authenticated, self.pending_write = None, None

    def authenticate(self, key_type: int, block: int, key: bytes, uid: bytes) -> bool:
        """MFAuthent: whether `key` is this sector's key A or B (and that key may authenticate at all)."""
        if self.state != "active" or uid != self.uid or not 0 <= block < 64 or key_type not in (AUTH_A, AUTH_B):
            return False
        sector = block // 4
        trailer = self.memory[sector * 4 + 3]
        which = "A" if key_type == AUTH_A else "B"
        stored = bytes(trailer[:6] if which == "A" else trailer[10:16])
        if key != stored:
            self.authenticated = None
            self.state = "idle"  # a failed authentication ends the session
            return False
        self.authenticated = (sector, which)
        return True

    def _access(self, block: int) -> tuple[int, int, int]:
        sector, index = divmod(block, 4)
        trailer = self.memory[sector * 4 + 3]
        b7, b8 = trailer[7], trailer[8]
        return (b7 >> (4 + index)) & 1, (b8 >> index) & 1, (b8 >> (4 + index)) & 1

    def _may(self, block: int, write: bool) -> bool:
        if self.authenticated is None or self.authenticated[0] != block // 4:
            return False
        key = self.authenticated[1]
        c = self._access(block)
        if block % 4 == 3:  # the trailer: only its writability matters here
            return write and (c in ((0, 0, 1),) or (key == "B" and c in ((0, 1, 1),)))
        read = {(0, 0, 0): "AB", (0, 1, 0): "AB", (1, 0, 0): "AB", (1, 1, 0): "AB", (0, 0, 1): "AB",
                (0, 1, 1): "B", (1, 0, 1): "B", (1, 1, 1): ""}  # fmt: skip
        written = {(0, 0, 0): "AB", (1, 0, 0): "B", (1, 1, 0): "B", (0, 1, 1): "B"}
        return key in (written.get(c, "") if write else read[c])

    def command(self, command: bytes) -> Answer | None:
        if self.pending_write is not None:
            block, self.pending_write = self.pending_write, None
            if len(command) != 16:
                return Answer(bytes([NAK]), 4)
            self.memory[block][:] = command
            return Answer(bytes([ACK]), 4)
        if command[0] == READ and len(command) == 2 and command[1] < 64:
            block = command[1]
            if not self._may(block, write=False) and block % 4 != 3:
                return Answer(bytes([NAK]), 4)
            data = bytes(self.memory[block])
            if block % 4 == 3:
                data = bytes(6) + data[6:10] + bytes(6)  # keys never read back under our access bits
            return _with_crc(data)
        if command[0] == WRITE_CLASSIC and len(command) == 2 and 0 < command[1] < 64:
            if not self._may(command[1], write=True):
                return Answer(bytes([NAK]), 4)
            self.pending_write = command[1]
            return Answer(bytes([ACK]), 4)
        return Answer(bytes([NAK]), 4)


@dataclass
class NtagCard(Card):
    """NTAG213/215/216: 4-byte pages; pages 0-2 the UID and lock bytes, 3 the capability container."""

    kind: str = "ntag213"
    pages: list[bytearray] = field(default_factory=list)
    password_ok: bool = False

    def __post_init__(self) -> None:
        if len(self.uid) != 7:
            raise ValueError("an NTAG21x has a 7-byte UID")
        if not self.pages:
            count = NTAG_PAGES[self.kind]
            self.pages = [bytearray(4) for _ in range(count)]
            u = self.uid
            self.pages[0][:] = bytes([u[0], u[1], u[2], CASCADE_TAG ^ u[0] ^ u[1] ^ u[2]])
            self.pages[1][:] = u[3:7]
            self.pages[2][0] = bcc(u[3:7])
            cfg0 = count - 4
            self.pages[cfg0][:] = bytes([0x04, 0, 0, 0xFF])  # AUTH0 = 0xFF: nothing protected
            self.pages[cfg0 + 2][:] = b"\xff\xff\xff\xff"  # factory password

    @property
    def cfg0(self) -> int:
        return len(self.pages) - 4

    def sak(self, level: int) -> int:
        return 0x04 if level == 0 else 0x00

    def store(self, address: int, data: bytes) -> None:
        self.pages[address][:] = data

    def reset(self) -> None:
        super().reset()
        self.password_ok = False

    def command(self, command: bytes) -> Answer | None:
        auth0 = self.pages[self.cfg0][3]
        if command[0] == READ and len(command) == 2:
            start = command[1]
            if start >= len(self.pages):
                return Answer(bytes([NAK]), 4)
            hidden = (self.cfg0 + 2, self.cfg0 + 3)  # PWD and PACK always read as zeros
            numbers = [(start + i) % len(self.pages) for i in range(4)]
            return _with_crc(b"".join(bytes(4) if p in hidden else bytes(self.pages[p]) for p in numbers))
        if command[0] == WRITE_NTAG and len(command) == 6:
            page = command[1]
            if page < 2 or page >= len(self.pages) or (page >= auth0 and not self.password_ok):
                return Answer(bytes([NAK]), 4)
            self.pages[page][:] = command[2:6]
            return Answer(bytes([ACK]), 4)
        if command[0] == PWD_AUTH and len(command) == 5:
            if bytes(command[1:5]) != bytes(self.pages[self.cfg0 + 2]):
                self.state = "idle"
                return None
            self.password_ok = True
            return _with_crc(bytes(self.pages[self.cfg0 + 3][:2]))
        if command[0] == GET_VERSION and len(command) == 1:
            return _with_crc(bytes([0x00, 0x04, 0x04, 0x02, 0x01, 0x00, NTAG_VERSION[self.kind], 0x03]))
        return Answer(bytes([NAK]), 4)


def blank_card(rng: random.Random, *, ntag: bool) -> Card:
    """A new card with a random UID: an NTAG213 (7 bytes, NXP's 0x04 first) or a MIFARE Classic 1K (4 bytes)."""
    if ntag:
        return NtagCard(bytes([0x04, *(rng.randrange(256) for _ in range(6))]))
    return ClassicCard(bytes(rng.randrange(256) for _ in range(4)))
