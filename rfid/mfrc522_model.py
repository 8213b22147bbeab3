"""An MFRC522 at register level, behind stand-ins for `spidev.SpiDev` and `RPi.GPIO`, with a field of cards.

The `mfrc522` package talks to the chip in SPI frames ([address << 1 | read bit, value]); this model
answers those frames as NXP's MFRC522 datasheet (rev. 3.9) describes: the registers, the 64-byte FIFO, the
Idle, CalcCRC, Transceive, MFAuthent and SoftReset commands, the interrupt bits of ComIrqReg and DivIrqReg,
the error bits of ErrorReg, MFCrypto1On in Status2Reg and RxLastBits in ControlReg. Transceive starts when
StartSend is set in BitFramingReg; the frame goes to the `Field`, whose cards answer (rfid/cards.py). No
answer is a timer interrupt; two answers are a collision (CollErr, and CollReg's position).

`install()` puts the stand-in modules in sys.modules before the package is imported, as the simulation
backend does once (the gateway never asks which bus it got). Faults for tests and the simulated world:
a card leaving the field after a number of frames (removal mid-read), noise garbling the next frames
(a parity error), SPI transfers failing with an I/O error, a chip that stops answering (every register
reads 0x00) until its reset pin is pulsed.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from types import ModuleType, SimpleNamespace

from rfid.cards import AUTH_A, AUTH_B, Answer, Card, ClassicCard, crc_a
from rfid.registers import (
    BIT_FRAMING,
    CALC_CRC,
    COLL,
    COLL_ERR,
    COM_IEN,
    COM_IRQ,
    COMMAND,
    CONTROL,
    CRC_IRQ,
    CRC_RESULT_L,
    CRC_RESULT_M,
    CRYPTO1_ON,
    DIV_IRQ,
    ERR_IRQ,
    ERROR,
    FIFO_DATA,
    FIFO_LEVEL,
    IDLE,
    IDLE_IRQ,
    MF_AUTHENT,
    MODE,
    PARITY_ERR,
    PROTOCOL_ERR,
    RX_IRQ,
    SOFT_RESET,
    STATUS2,
    TIMER_IRQ,
    TRANSCEIVE,
    TX_CONTROL,
    VERSION,
)

CHIP_VERSION = 0x92
"""VersionReg of an MFRC522 version 2.0, the chip on the common RC522 boards."""

RESET_VALUES = {COMMAND: 0x20, COM_IEN: 0x80, COM_IRQ: 0x14, FIFO_LEVEL: 0x00, CONTROL: 0x10, MODE: 0x3F,
                TX_CONTROL: 0x80, VERSION: CHIP_VERSION}  # fmt: skip


class Field:
    """The cards near one reader's antenna. Tests and the simulated world move cards in and out."""

    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.leave_after: dict[int, int] = {}
        self.garble_frames = 0
        self.lock = threading.RLock()

    def enter(self, card: Card) -> None:
        with self.lock:
            card.reset()
            if card not in self.cards:
                self.cards.append(card)

    def leave(self, card: Card) -> None:
        with self.lock:
            if card in self.cards:
                self.cards.remove(card)
            self.leave_after.pop(id(card), None)
            card.reset()

    def leave_after_frames(self, card: Card, frames: int) -> None:
        """The card is taken away after it has answered `frames` more frames (removed mid-read)."""
        with self.lock:
            self.leave_after[id(card)] = frames

    def transmit(self, data: bytes, bits: int) -> list[Answer]:
        with self.lock:
            answers = []
            for card in list(self.cards):
                answer = card.frame(data, bits)
                left = self.leave_after.get(id(card))
                if left is not None:
                    if left <= 0:
                        self.leave(card)
                        continue
                    self.leave_after[id(card)] = left - 1
                if answer is not None:
                    answers.append(answer)
            return answers


class MFRC522Chip:
    """The chip's registers and commands, driven by SPI frames."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.regs = bytearray(64)
        self.fifo: deque[int] = deque(maxlen=64)
        self.dead = False
        """A chip that stopped answering (brown-out, loose cable): reads 0x00 until reset."""
        self.transceiving = False
        self.transfers = 0
        """SPI transfers so far (the bench counts the cost of a poll in them)."""
        self.spi_errors = 0
        """The next this many transfers fail with an I/O error (a loose cable, electrical noise)."""
        self.soft_reset()

    def soft_reset(self) -> None:
        self.regs = bytearray(64)
        for reg, value in RESET_VALUES.items():
            self.regs[reg] = value
        self.fifo.clear()
        self.transceiving = False

    def hard_reset(self) -> None:
        """The reset pin pulsed low: the chip comes back, whatever state it was in."""
        self.dead = False
        self.soft_reset()

    # -- SPI ------------------------------------------------------------------------------------

    def spi(self, frame: list[int]) -> list[int]:
        """One SPI transfer: [address byte, value, ...]; answers as many bytes as it was sent."""
        self.transfers += 1
        if self.spi_errors > 0:
            self.spi_errors -= 1
            raise OSError(5, "Input/output error")  # what spidev raises when the bus transfer fails
        if not frame:
            return []
        address = (frame[0] >> 1) & 0x3F
        if self.dead:
            return [0] * len(frame)
        if frame[0] & 0x80:
            return [0, *(self.read(address) for _ in frame[1:])]
        for value in frame[1:]:
            self.write(address, value & 0xFF)
        return [0] * len(frame)

    def read(self, reg: int) -> int:
        if reg == FIFO_DATA:
            return self.fifo.popleft() if self.fifo else 0
        if reg == FIFO_LEVEL:
            return len(self.fifo)
        return self.regs[reg]

    def write(self, reg: int, value: int) -> None:
        if reg == FIFO_DATA:
            self.fifo.append(value)
        elif reg == FIFO_LEVEL:
            if value & 0x80:  # FlushBuffer
                self.fifo.clear()
        elif reg in (COM_IRQ, DIV_IRQ):
            # Set1 (bit 7): the marked bits are set; else they are cleared.
            mask = value & 0x7F
            self.regs[reg] = (self.regs[reg] | mask) if value & 0x80 else (self.regs[reg] & ~mask & 0xFF)
        elif reg == COMMAND:
            self.regs[COMMAND] = (self.regs[COMMAND] & 0xF0) | (value & 0x0F)
            self._command(value & 0x0F)
        elif reg == BIT_FRAMING:
            self.regs[BIT_FRAMING] = value & 0x7F
            if value & 0x80 and self.transceiving:
                self._transceive()
        elif reg == VERSION:
            pass  # read-only
        elif reg == TX_CONTROL:
            if self.regs[TX_CONTROL] & 0x03 and not value & 0x03:  # antenna off: the cards lose power
                with self.field.lock:
                    for card in self.field.cards:
                        card.reset()
            self.regs[TX_CONTROL] = value
        else:
            self.regs[reg] = value

    # -- commands -------------------------------------------------------------------------------

    def _command(self, command: int) -> None:
        self.transceiving = False
        if command == SOFT_RESET:
            self.soft_reset()
        elif command == IDLE:
            pass
        elif command == CALC_CRC:
            crc = crc_a(bytes(self.fifo))
            self.fifo.clear()
            self.regs[CRC_RESULT_L], self.regs[CRC_RESULT_M] = crc[0], crc[1]
            self.regs[DIV_IRQ] |= CRC_IRQ
            self._idle()
        elif command == TRANSCEIVE:
            self.transceiving = True  # waits for StartSend
        elif command == MF_AUTHENT:
            self._authenticate()

    def _idle(self) -> None:
        self.regs[COMMAND] &= 0xF0
        self.regs[COM_IRQ] |= IDLE_IRQ

    def _transceive(self) -> None:
        data = bytes(self.fifo)
        self.fifo.clear()
        bits = self.regs[BIT_FRAMING] & 0x07
        self.regs[ERROR] = 0
        self.regs[CONTROL] &= 0xF8
        if not self.regs[TX_CONTROL] & 0x03:  # antenna off: nothing is sent, nothing comes back
            self.regs[COM_IRQ] |= TIMER_IRQ
            return
        answers = self.field.transmit(data, bits)
        if self.field.garble_frames > 0 and answers:
            self.field.garble_frames -= 1
            self.regs[ERROR] |= PARITY_ERR
            self.regs[COM_IRQ] |= RX_IRQ | ERR_IRQ
            return
        if not answers:
            self.regs[COM_IRQ] |= TIMER_IRQ
            return
        first = answers[0]
        if len(answers) > 1 and any(a.data != first.data for a in answers):
            # Collision: the bits up to the first difference arrive, and CollReg says where.
            position = _first_difference(answers[0].data, answers[1].data)
            self.fifo.extend(first.data[: position // 8 + 1])
            self.regs[ERROR] |= COLL_ERR
            self.regs[COLL] = (position + 1) & 0x1F
            self.regs[COM_IRQ] |= RX_IRQ | ERR_IRQ
            return
        self.fifo.extend(first.data)
        self.regs[CONTROL] = (self.regs[CONTROL] & 0xF8) | (first.last_bits & 0x07)
        self.regs[COM_IRQ] |= RX_IRQ

    def _authenticate(self) -> None:
        data = bytes(self.fifo)
        self.fifo.clear()
        ok = False
        if len(data) == 12 and data[0] in (AUTH_A, AUTH_B):
            with self.field.lock:
                for card in self.field.cards:
                    if isinstance(card, ClassicCard) and card.authenticate(data[0], data[1], data[2:8], data[8:12]):
                        ok = True
        if ok:
            self.regs[STATUS2] |= CRYPTO1_ON
        else:
            self.regs[STATUS2] &= ~CRYPTO1_ON & 0xFF
            self.regs[ERROR] |= PROTOCOL_ERR  # the card's answer did not authenticate
        self._idle()


def _first_difference(a: bytes, b: bytes) -> int:
    for i in range(min(len(a), len(b)) * 8):
        if (a[i // 8] >> (i % 8)) & 1 != (b[i // 8] >> (i % 8)) & 1:
            return i
    return min(len(a), len(b)) * 8


# -- the stand-in modules ----------------------------------------------------------------------


class Bus:
    """The SPI devices (bus, chip select) and the GPIO pins of one simulated board."""

    def __init__(self) -> None:
        self.chips: dict[tuple[int, int], MFRC522Chip] = {}
        self.reset_pins: dict[int, tuple[int, int]] = {}
        self.pins: dict[int, int] = {}
        self.mode: int | None = None

    def attach(self, chip: MFRC522Chip, bus: int, device: int, reset_pin: int) -> None:
        self.chips[bus, device] = chip
        self.reset_pins[reset_pin] = (bus, device)


BUS = Bus()
"""The board the stand-ins talk to; the simulation attaches chips to it."""


class SpiDev:
    """`spidev.SpiDev` on the simulated board."""

    def __init__(self) -> None:
        self.chip: MFRC522Chip | None = None
        self.max_speed_hz = 500_000
        self.mode = 0

    def open(self, bus: int, device: int) -> None:
        chip = BUS.chips.get((bus, device))
        if chip is None:
            raise FileNotFoundError(2, f"No such file or directory: '/dev/spidev{bus}.{device}'")
        self.chip = chip

    def xfer2(self, frame: list[int]) -> list[int]:
        if self.chip is None:
            raise OSError(9, "Bad file descriptor")
        return self.chip.spi(list(frame))

    xfer = xfer2

    def close(self) -> None:
        self.chip = None


def _gpio_module() -> ModuleType:
    gpio = ModuleType("RPi.GPIO")
    gpio.BCM, gpio.BOARD, gpio.OUT, gpio.IN, gpio.HIGH, gpio.LOW = 11, 10, 0, 1, 1, 0

    def setmode(mode: int) -> None:
        BUS.mode = mode

    def output(pin: int, value: int) -> None:
        was = BUS.pins.get(pin, 1)
        BUS.pins[pin] = 1 if value else 0
        if pin in BUS.reset_pins and was == 0 and value:  # a rising edge on NRSTPD: the chip restarts
            BUS.chips[BUS.reset_pins[pin]].hard_reset()

    gpio.getmode = lambda: BUS.mode
    gpio.setmode = setmode
    gpio.setup = lambda pin, direction, **kwargs: None
    gpio.output = output
    gpio.setwarnings = lambda flag: None
    gpio.cleanup = lambda *pins: None
    return gpio


def install() -> None:
    """Make `import spidev` and `import RPi.GPIO` find the simulated board (before `mfrc522` is imported)."""
    if getattr(sys.modules.get("spidev"), "SIMULATED", False):
        return
    gpio = _gpio_module()
    rpi = ModuleType("RPi")
    rpi.GPIO = gpio
    sys.modules.update({"spidev": SimpleNamespace(SpiDev=SpiDev, SIMULATED=True), "RPi": rpi, "RPi.GPIO": gpio})
