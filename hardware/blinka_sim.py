"""Stand-ins for Blinka's `digitalio` and `pulseio`, wired to a modelled DHT22, and the time its driver sees.

On a Pi, `adafruit_dht` talks to the sensor through Blinka: `digitalio.DigitalInOut` to bit-bang the line,
or `pulseio.PulseIn` to have a helper process time the pulses. Here the same driver module is loaded with
these stand-ins in their place (`load_adafruit_dht`), so its framing, pulse decoding and checksum code run
unchanged against `hardware.dht22_model`.

Time is the one thing the stand-ins cannot leave to the wall clock: the driver bit-bangs by polling
`time.monotonic()` and the pin in a tight loop, and 26 µs against 70 µs pulses cannot be told apart on an
accelerated simulated clock. So each loaded driver gets its own `DriverTime`: a virtual clock that a
polling loop moves forward by a few microseconds per look (as a Python loop on a Pi does, with now and
then a stall when the kernel schedules something else: the reason bit-banging fails on Linux), that
`sleep` moves without waiting, and that catches up with the simulated clock at the start of every read.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from types import ModuleType, SimpleNamespace

from hardware.clock import Clock
from hardware.dht22_model import DHT22Model, Waveform

POLL_US = (2, 6)
"""Time per look at the pin in a Python polling loop on a Pi 4 (a Pi 5 is faster, a Zero slower)."""
IDLE_POLL_US = 500
"""Once the sensor has finished talking the line stays high; looking less often changes nothing."""
STALL_RATE = 0.00002
STALL_US = (100, 400)
"""Now and then the kernel takes the core away for a few hundred microseconds mid-frame."""


class DriverTime:
    """The `time` module of one simulated driver: virtual microseconds inside a read, the sim clock between."""

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self._now = clock.monotonic()
        self.line: Waveform | None = None

    def sync(self) -> None:
        """Catch up with the simulated clock (before each read; it never goes back)."""
        self._now = max(self._now, self.clock.monotonic())

    def monotonic(self) -> float:
        busy = self.line is not None and self._now <= self.line.end_s
        if not busy:
            self._now += IDLE_POLL_US / 1e6
        elif self.rng.random() < STALL_RATE:
            self._now += self.rng.randint(*STALL_US) / 1e6
        else:
            self._now += self.rng.randint(*POLL_US) / 1e6
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    @property
    def now(self) -> float:
        return self._now


class SimPin:
    """What the driver is given as its `board` pin: a modelled sensor and the driver's time."""

    def __init__(self, model: DHT22Model, time: DriverTime, name: str = "D4") -> None:
        self.model = model
        self.time = time
        self.name = name

    def __repr__(self) -> str:
        return f"SimPin({self.name})"


# -- digitalio -----------------------------------------------------------------------------------


class Direction(Enum):
    INPUT = "input"
    OUTPUT = "output"


class Pull(Enum):
    UP = "up"
    DOWN = "down"


class DigitalInOut:
    """Blinka's `digitalio.DigitalInOut` on a modelled DHT22 line: driving it low then letting go starts a read."""

    def __init__(self, pin: SimPin) -> None:
        self._pin = pin
        self._direction = Direction.INPUT
        self._driven = True
        self.pull: Pull | None = None
        self._line: Waveform | None = None

    @property
    def direction(self) -> Direction:
        return self._direction

    @direction.setter
    def direction(self, direction: Direction) -> None:
        released = self._direction is Direction.OUTPUT and direction is Direction.INPUT
        self._direction = direction
        if released and not self._driven:  # the host's start signal ends: the sensor answers
            self._line = self._pin.model.respond(self._pin.time.now)
            self._pin.time.line = self._line

    @property
    def value(self) -> bool:
        if self._direction is Direction.OUTPUT:
            return self._driven
        return self._line.level(self._pin.time.now) if self._line else True

    @value.setter
    def value(self, level: bool) -> None:
        if self._direction is not Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")  # Blinka's words
        self._driven = bool(level)

    def deinit(self) -> None:
        self._pin.time.line = None

    def __enter__(self) -> DigitalInOut:
        return self

    def __exit__(self, *_: object) -> None:
        self.deinit()


# -- pulseio -------------------------------------------------------------------------------------


class PulseIn:
    """Blinka's `pulseio.PulseIn` on a modelled DHT22 line: `resume(trigger_us)` sends the start signal and
    records the pulses' lengths, keeping the last `maxlen` as CircuitPython's does."""

    def __init__(self, pin: SimPin, maxlen: int = 2, idle_state: bool = False) -> None:
        self._pin = pin
        self._pulses: deque[int] = deque(maxlen=maxlen)
        self.paused = False

    def pause(self) -> None:
        self.paused = True

    def resume(self, trigger_duration: int = 0) -> None:
        time = self._pin.time
        time.sleep(trigger_duration / 1e6)
        line = self._pin.model.respond(time.now)
        self.paused = False
        # A pulse is recorded when it ends; the last one ends when the line is released high for good.
        self._pulses.extend(min(d, 65535) for d, _ in line.pulses)

    def clear(self) -> None:
        self._pulses.clear()

    def popleft(self) -> int:
        return self._pulses.popleft()

    def __len__(self) -> int:
        return len(self._pulses)

    def __bool__(self) -> bool:
        return bool(self._pulses)

    def deinit(self) -> None:
        self._pulses.clear()


digitalio = SimpleNamespace(DigitalInOut=DigitalInOut, Direction=Direction, Pull=Pull)
pulseio = SimpleNamespace(PulseIn=PulseIn)
microcontroller = SimpleNamespace(Pin=SimPin)  # the driver imports it for type hints only

_LOADING = threading.Lock()


@contextmanager
def _stand_ins(modules: dict[str, object]) -> Iterator[None]:
    """Put `modules` in sys.modules while one import runs, then put back what was there."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)  # type: ignore[arg-type]
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_adafruit_dht(time: DriverTime) -> ModuleType:
    """A private copy of Adafruit's `adafruit_dht` module that sees the stand-ins and `time`.

    A copy per sensor, so each driver keeps its own virtual time; it is never put in sys.modules, where a
    real `adafruit_dht` would be on a Pi.
    """
    spec = importlib.util.find_spec("adafruit_dht")
    if spec is None or spec.loader is None:
        raise ImportError("adafruit_dht is not installed (pip package adafruit-circuitpython-dht)")
    module = importlib.util.module_from_spec(spec)
    with _LOADING, _stand_ins({"digitalio": digitalio, "pulseio": pulseio, "microcontroller": microcontroller}):
        spec.loader.exec_module(module)
    module.time = time  # the module's own `import time`, swapped for this sensor's virtual time
    return module
