"""A DHT22 (AM2302) on its one-wire data line: what the sensor puts on the wire after the host's start signal.

The model answers at the level a Pi's GPIO sees, so Adafruit's driver (`adafruit_dht`) decodes it with its
own framing and checksum code. Timings are the AM2302 datasheet's (Aosong, "Digital-output relative humidity
& temperature sensor/module AM2302", section 7): after the host releases the line it stays high for 20–40 µs,
the sensor pulls it low for 80 µs and high for 80 µs, then sends 40 bits, each a 50 µs low followed by a high
of 26–28 µs for a 0 or 70 µs for a 1, and ends with a 50 µs low before letting the line go high again.

The 40 bits are humidity ×10 (16 bits), temperature ×10 (15 bits and a sign bit) and a checksum, the low
byte of the sum of the first four bytes.

A sensor can be given one of the faults people meet on real Pis (`Fault`); `glitch_rate` adds the routine
failures of a healthy sensor on a metre or two of cable, so a healthy room still sees a few per cent of
failed reads.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

Fault = Literal["no_response", "short_frame", "checksum", "stuck", "spikes"]
"""no_response: nothing answers (cable loose, sensor dead). short_frame: the sensor stops mid-frame.
checksum: a bit is garbled on the way. stuck: the sensor repeats one frame for ever (a hung sensor).
spikes: now and then a frame with a valid checksum but a wildly wrong value."""
FAULTS: tuple[Fault, ...] = ("no_response", "short_frame", "checksum", "stuck", "spikes")

GO_US = (20, 40)
RESPONSE_LOW_US = RESPONSE_HIGH_US = 80
BIT_LOW_US = 50
ZERO_HIGH_US = (26, 28)
ONE_HIGH_US = 70
END_LOW_US = 50
JITTER_US = 3
"""The sensor's own clock wanders a few microseconds per pulse."""
NOISE_C, NOISE_RH = 0.1, 0.5
"""Standard deviation of read-to-read noise; the datasheet's ±0.5 °C and ±2 % RH accuracy is mostly a steady
offset per unit, which a calibration offset in the site config corrects."""
SPIKE_SHARE = 0.3
"""Share of frames that are spikes while a sensor has the "spikes" fault."""


def encode_frame(temperature_c: float, humidity_rh: float) -> bytes:
    """The five bytes a DHT22 sends for a reading: RH×10, T×10 with a sign bit, checksum."""
    rh = max(0, min(999, round(humidity_rh * 10)))  # it reports 0–99.9 % RH
    t = max(-400, min(800, round(temperature_c * 10)))  # and -40–80 °C
    t_word = (abs(t) & 0x7FFF) | (0x8000 if t < 0 else 0)
    data = bytes([rh >> 8, rh & 0xFF, t_word >> 8, t_word & 0xFF])
    return data + bytes([sum(data) & 0xFF])


@dataclass
class Waveform:
    """The line's levels from the host's release on: (duration µs, level) pulses, then high for ever."""

    start_s: float
    pulses: list[tuple[int, bool]]
    _ends_us: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self._ends_us = list(accumulate(d for d, _ in self.pulses))

    @property
    def end_s(self) -> float:
        return self.start_s + (self._ends_us[-1] if self._ends_us else 0) / 1e6

    def level(self, t_s: float) -> bool:
        """The line's level at time `t_s` (pulled up: high before and after the sensor talks)."""
        offset_us = (t_s - self.start_s) * 1e6
        if offset_us < 0:
            return True
        index = bisect_right(self._ends_us, offset_us)
        return self.pulses[index][1] if index < len(self.pulses) else True


class DHT22Model:
    """One DHT22: `respond(at_s)` is its answer to a start signal that the host released at `at_s`.

    `climate()` gives the true (°C, % RH) around the sensor; `fault()` its current fault (or None), so the
    simulated world decides both. `rng` draws noise, jitter and routine glitches, reproducibly.
    """

    def __init__(
        self,
        climate: Callable[[], tuple[float, float]],
        fault: Callable[[], Fault | None],
        rng: random.Random,
        *,
        glitch_rate: float = 0.02,
    ) -> None:
        self.climate = climate
        self.fault = fault
        self.rng = rng
        self.glitch_rate = glitch_rate
        self._stuck_frame: bytes | None = None
        self.last_frame: bytes | None = None
        """The frame last sent, as the sensor meant it (tests compare the driver's decoding with it)."""

    def reading(self) -> tuple[float, float]:
        """What the sensor measures now: the truth with its noise (before the 0.1 resolution)."""
        temperature, humidity = self.climate()
        return temperature + self.rng.gauss(0.0, NOISE_C), humidity + self.rng.gauss(0.0, NOISE_RH)

    def respond(self, at_s: float) -> Waveform:
        fault = self.fault()
        if fault == "no_response":
            self.last_frame = None
            return Waveform(at_s, [])
        frame = self._frame(fault)
        self.last_frame = frame
        bits = [(byte >> (7 - i)) & 1 for byte in frame for i in range(8)]
        stop_after = len(bits)
        if fault == "checksum" or (fault is None and self.rng.random() < self.glitch_rate / 2):
            flipped = self.rng.randrange(len(bits))
            bits[flipped] ^= 1
        elif fault == "short_frame" or (fault is None and self.rng.random() < self.glitch_rate / 2):
            stop_after = self.rng.randrange(4, 36)
        pulses = [(self.rng.randint(*GO_US), True), (self._us(RESPONSE_LOW_US), False)]
        pulses.append((self._us(RESPONSE_HIGH_US), True))
        for bit in bits[:stop_after]:
            pulses.append((self._us(BIT_LOW_US), False))
            high = ONE_HIGH_US if bit else self.rng.randint(*ZERO_HIGH_US)
            pulses.append((self._us(high), True))
        if stop_after == len(bits):
            pulses.append((self._us(END_LOW_US), False))
        return Waveform(at_s, pulses)

    def _frame(self, fault: Fault | None) -> bytes:
        if fault != "stuck":
            self._stuck_frame = None
        elif self._stuck_frame is not None:
            return self._stuck_frame
        temperature, humidity = self.reading()
        if fault == "spikes" and self.rng.random() < SPIKE_SHARE:
            if self.rng.random() < 0.5:
                humidity += self.rng.choice((-1, 1)) * self.rng.uniform(20, 40)
            else:
                temperature += self.rng.choice((-1, 1)) * self.rng.uniform(10, 25)
        frame = encode_frame(temperature, humidity)
        if fault == "stuck":
            self._stuck_frame = frame
        return frame

    def _us(self, nominal: int) -> int:
        return max(1, nominal + self.rng.randint(-JITTER_US, JITTER_US))
