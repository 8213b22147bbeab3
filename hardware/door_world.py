"""The simulated side of door access: strikes that lock or not by their relay, buttons, tamper loops, fire
panel contacts, Wiegand readers, and people with badges who walk up, badge, open, go in, and leave.

Part of the world (hardware/world.py): it reads each strike's relay from its mock pin as a real strike
would, holds the lock's status switch, the buttons' and loops' contacts on their pins, and drives the
readers' D0/D1 lines with real Wiegand timing. A person opens a door only if its strike is unlocked when
they pull; a door opened while locked is forced (`force`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory, MockPin

from hardware.config import Door, WiegandReader
from hardware.wiegand_sim import SimulatedWiegandReader

PULL_AFTER_S = 1.5
"""A person pulls the door this long after their (or the last of a pair's) badge."""
PAIR_GAP_S = 4.0
"""The second of a pair badges this long after the first."""
HOLD_S = 5.0
"""How long people take to walk through and let the door close behind them."""
FORGOT_S = 300.0
"""How long a door someone forgot to close stays open before somebody notices."""


@dataclass(frozen=True)
class Badge:
    """A badge in someone's pocket: its Wiegand number `facility:card`."""

    holder: str
    facility: int
    card: int
    bits: int = 26

    @property
    def number(self) -> str:
        return f"{self.facility}:{self.card}"


DEMO_BADGES = (
    Badge("keeper", 12, 1001),
    Badge("archivist", 12, 1002),
    Badge("facilities", 12, 1003),
    Badge("admin", 12, 1004),
    Badge("visitor-1", 99, 5001),
    Badge("stranger", 77, 4242),
)
"""The simulated staff's badges; the demo's permission document gives them their rooms (storeroom/demo.py)."""


class SwitchPin(MockPin):
    """A GPIO input wired through a switch to ground: held low while closed, following its pull when open."""

    closed = False

    def _change_state(self, value: bool) -> bool:
        return super()._change_state(bool(value) and not (self.closed and self.function == "input"))

    def set_closed(self, closed: bool) -> None:
        self.closed = closed
        if closed:
            self.drive_low()
        elif self.pull == "up":
            self.drive_high()


class StrikePin(MockPin):
    """The GPIO driving a strike's relay; the lock's status switch follows it at once (`on_change`)."""

    on_change: Callable[[], None] | None = None

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and self.on_change:
            self.on_change()
        return changed

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        if self.on_change:
            self.on_change()


def _switch(pins: MockFactory, pin: int | None, closed: bool) -> SwitchPin | None:
    if pin is None:
        return None
    switch = pins.pin(pin, pin_class=SwitchPin)
    if not isinstance(switch, SwitchPin):
        raise RuntimeError(f"GPIO{pin} was claimed before the simulated world could wire its switch")
    switch.set_closed(closed)
    return switch


@dataclass
class AccessDoor:
    """A door's access hardware in the simulated world."""

    config: Door
    strike: MockPin
    sense: SwitchPin | None
    exit_button: SwitchPin | None
    tamper: SwitchPin | None
    emergency: SwitchPin | None
    readers: dict[str, SimulatedWiegandReader]
    jammed: bool | None = None
    """A strike stuck locked (True) or unlocked (False) whatever its relay says; None: working."""
    log: list[dict] = field(default_factory=list)
    """What people did here (for tests and scenarios): pulled a locked door, forgot to close it, ..."""

    @classmethod
    def wire(cls, door: Door, pins: MockFactory) -> AccessDoor:
        access = door.access
        assert access is not None
        readers = {
            # One burst per frame: a loaded machine must not split a frame a real reader sends whole.
            r.side: SimulatedWiegandReader(pins, r.d0_pin, r.d1_pin, real_time=False)
            for r in access.readers
            if isinstance(r, WiegandReader)
        }
        strike = pins.pin(access.strike.pin, pin_class=StrikePin)
        made = cls(
            door,
            strike,
            _switch(pins, access.strike.sense_pin, True),
            _switch(pins, access.exit_button_pin, False),
            _switch(pins, access.tamper_pin, True),
            _switch(pins, access.emergency_pin, False),
            readers,
        )
        if isinstance(strike, StrikePin):
            strike.on_change = made.update_sense
        made.update_sense()
        return made

    @property
    def energised(self) -> bool:
        strike = self.config.access.strike  # type: ignore[union-attr]
        return self.strike.function == "output" and bool(self.strike.state) == strike.active_high

    @property
    def locked(self) -> bool:
        """The bolt as it is: a fail-secure strike is free only while powered, a maglock holds only while powered."""
        if self.jammed is not None:
            return self.jammed
        fail_safe = self.config.access.strike.fail_mode == "fail-safe"  # type: ignore[union-attr]
        return self.energised if fail_safe else not self.energised

    def update_sense(self) -> None:
        if self.sense is not None:
            self.sense.set_closed(self.locked)


@dataclass(order=True)
class _Due:
    at: float
    order: int
    act: Callable[[], None] = field(compare=False)


class People:
    """What the simulated people will do, in time order. The world runs each step at its time."""

    def __init__(self) -> None:
        self._queue: list[_Due] = []
        self._order = itertools.count()

    def at(self, t: float, act: Callable[[], None]) -> None:
        heapq.heappush(self._queue, _Due(t, next(self._order), act))

    def next_at(self) -> float:
        return self._queue[0].at if self._queue else float("inf")

    def pop_due(self, now: float) -> list[Callable[[], None]]:
        due = []
        while self._queue and self._queue[0].at <= now:
            due.append(heapq.heappop(self._queue).act)
        return due
