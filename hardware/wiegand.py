"""Wiegand: what commercial door readers speak, received on two GPIO inputs through gpiozero.

The reader holds both lines (D0, D1) high while idle and sends each bit as a short low pulse on one of
them: on D0 for a 0, on D1 for a 1 (typically 50 µs wide, 1-2 ms apart). A frame ends when the lines
stay quiet; `FRAME_GAP_S` of silence closes it. Two formats are read:

    26 bits: P | facility (8) | card (16) | P     even parity over bits 1-12, odd parity over bits 13-24
    34 bits: P | facility (16) | card (16) | P    even parity over bits 1-16, odd parity over bits 17-32

(bit 0 is the first sent; the parity bits are the first and the last). Any other length, or a parity
that does not hold, is refused with a `WiegandError` whose `reason` says which: a badge misread by
noise on a long cable must never be taken for another badge.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

log = logging.getLogger(__name__)

FRAME_GAP_S = 0.05
"""Silence that ends a frame: over twice the longest bit interval a reader may use (20 ms; 1-2 ms usual), so
a frame survives the receiving process being held up for a few tens of ms (a busy Pi, or the simulated
reader's thread on a loaded machine) at the cost of 50 ms before a badge is decided."""
FORMATS = {26: 8, 34: 16}
"""Frame length -> bits of facility code."""
REASONS = ("bad_length", "bad_parity")


class WiegandError(ValueError):
    """A frame that is not a badge; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Credential:
    """A badge number as read off a Wiegand frame."""

    bits: int
    facility: int
    card: int

    @property
    def number(self) -> str:
        """The badge number as the permission document names it: `facility:card`."""
        return f"{self.facility}:{self.card}"


def decode(bits: list[int]) -> Credential:
    """The credential in a frame (bits in the order sent), or WiegandError saying why not."""
    if len(bits) not in FORMATS:
        raise WiegandError("bad_length", f"a frame of {len(bits)} bits is neither Wiegand 26 nor 34")
    half = len(bits) // 2
    if sum(bits[:half]) % 2 != 0:
        raise WiegandError("bad_parity", f"Wiegand {len(bits)}: the even parity over the first half fails")
    if sum(bits[half:]) % 2 != 1:
        raise WiegandError("bad_parity", f"Wiegand {len(bits)}: the odd parity over the second half fails")
    data = int("".join(map(str, bits[1:-1])), 2)
    card_bits = 16
    return Credential(len(bits), data >> card_bits, data & ((1 << card_bits) - 1))


def encode(facility: int, card: int, bits: int = 26) -> list[int]:
    """The frame a reader sends for this badge (for the simulated reader, tests and the bench)."""
    if bits not in FORMATS:
        raise ValueError(f"Wiegand {bits} is not supported (26 or 34)")
    facility_bits = FORMATS[bits]
    if not (0 <= facility < 1 << facility_bits and 0 <= card < 1 << 16):
        raise ValueError(f"facility {facility} or card {card} does not fit Wiegand {bits}")
    data = [int(b) for b in format((facility << 16) | card, f"0{bits - 2}b")]
    half = (bits - 2) // 2
    even = sum(data[:half]) % 2
    odd = 1 - sum(data[half:]) % 2
    return [even, *data, odd]


OnFrame = Callable[[Credential | WiegandError], None]


class WiegandReceiver:
    """Bits from a reader's D0 and D1 lines, as gpiozero input devices; each finished frame goes to `on_frame`
    (a Credential, or the WiegandError that refused it), on the receiver's own thread.

    The edge callbacks only append a bit and note the time: a Pi's GPIO callback thread must never wait.
    """

    def __init__(self, d0_pin: int, d1_pin: int, on_frame: OnFrame, *, pin_factory: Factory) -> None:
        self.on_frame = on_frame
        self._bits: list[int] = []
        self._last_edge = 0.0
        self._busy = False
        self._cond = threading.Condition()
        self._closed = False
        self.frames = 0
        """Frames finished so far (good or refused)."""
        self.d0 = DigitalInputDevice(d0_pin, pull_up=True, pin_factory=pin_factory)
        try:
            self.d1 = DigitalInputDevice(d1_pin, pull_up=True, pin_factory=pin_factory)
        except Exception:
            self.d0.close()
            raise
        # Active while low: a pulse is the device turning active.
        self.d0.when_activated = lambda: self._bit(0)
        self.d1.when_activated = lambda: self._bit(1)
        self._thread = threading.Thread(target=self._run, name=f"wiegand-{d0_pin}-{d1_pin}", daemon=True)
        self._thread.start()

    def _bit(self, value: int) -> None:
        with self._cond:
            self._bits.append(value)
            self._last_edge = time.monotonic()
            self._busy = True
            self._cond.notify()

    def idle(self, timeout: float = 1.0) -> bool:
        """Wait until no frame is being received or handed on; False if still busy after `timeout`."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._busy and not self._closed:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._bits and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                quiet = time.monotonic() - self._last_edge
                if quiet < FRAME_GAP_S:
                    self._cond.wait(FRAME_GAP_S - quiet)
                    continue
                bits, self._bits = self._bits, []
            try:
                result: Credential | WiegandError = decode(bits)
            except WiegandError as exc:
                log.warning("Wiegand frame refused: %s", exc)
                result = exc
            try:
                self.on_frame(result)
            except Exception:  # a faulty handler must not stop the reader
                log.exception("Wiegand frame handler failed")
            with self._cond:
                self.frames += 1
                self._busy = bool(self._bits)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(2)
        self.d0.close()
        self.d1.close()
