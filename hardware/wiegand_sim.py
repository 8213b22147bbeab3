"""A simulated Wiegand door reader: drives the D0 and D1 mock pins as a real reader drives its lines.

Each bit is a low pulse of `PULSE_S` on D0 (a 0) or D1 (a 1), one every `INTERVAL_S`, in real time, so
the gateway's receiver meets real timing whatever the simulated clock does. A frame can be sent garbled
(one bit flipped, as noise on a long cable does), which its parity must catch.

Real time has a cost on a loaded machine: a thread that sleeps 1 ms between bits may wait far longer for
the CPU or the interpreter lock, and a pause past the receiver's `FRAME_GAP_S` splits the frame in two
refused halves, which a real reader never does. The simulated storeroom therefore sends a frame as one
burst (`real_time=False`): every edge in order with nothing in between to wait for, so the frame reaches
the receiver whole and only the silence after it ends it, as on a wire. The receiver's own timing is
exercised with `real_time=True` (tests/test_wiegand.py, bench/doors.py).
"""

from __future__ import annotations

import threading
import time

from gpiozero.pins.mock import MockFactory, MockPin

from hardware import wiegand

PULSE_S = 50e-6
INTERVAL_S = 1e-3
"""Typical reader timing: 50 µs pulses 1 ms apart (the standard allows 20-100 µs and up to 20 ms)."""


class SimulatedWiegandReader:
    """The reader at one side of a door. `send` returns once the frame is on the wire (a few tens of ms)."""

    def __init__(self, pins: MockFactory, d0_pin: int, d1_pin: int, *, real_time: bool = True) -> None:
        self.d0: MockPin = pins.pin(d0_pin)
        self.d1: MockPin = pins.pin(d1_pin)
        self.real_time = real_time
        self._lock = threading.Lock()
        self.sent = 0

    def present(self, facility: int, card: int, bits: int = 26, *, flip: int | None = None) -> None:
        """A badge held to the reader: its frame, with bit `flip` inverted if given (a garbled read)."""
        frame = wiegand.encode(facility, card, bits)
        if flip is not None:
            frame[flip] ^= 1
        self.send(frame)

    def send(self, frame: list[int]) -> None:
        with self._lock:  # one frame at a time on a reader's lines
            for i, bit in enumerate(frame):
                pin = self.d1 if bit else self.d0
                start = time.perf_counter()
                pin.drive_low()
                if self.real_time:
                    _wait_until(start + PULSE_S)
                pin.drive_high()
                if self.real_time and i < len(frame) - 1:
                    _wait_until(start + INTERVAL_S)
            self.sent += 1


def _wait_until(deadline: float) -> None:
    """Sleep (never spin: a spinning thread fights the gateway's threads for the GIL and makes them late)."""
    left = deadline - time.perf_counter()
    if left > 0:
        time.sleep(left)
