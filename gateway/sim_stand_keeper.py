"""A simulated keeper at the copy stand, for the demo: digitizes a dossier now and then, as a keeper would.

Lays the dossier's tag on the stand's reader, then for each page: reaches in, lays the page, and (with a
pedal) steps on it; looks at the station's verdict and lays a bad page again; at the end lays the tag
again to close the session. Some shots are spoilt on purpose (blurred, over-exposed, a finger, the same
page twice), so the demo shows what the checks catch, and some pages are laid upside down, which the stand
turns upright. Simulated people never run on a Pi.
"""

from __future__ import annotations

import logging
import random

from gpiozero.pins import Factory

from gateway.copystand import CopyStandSession
from hardware.background import Background
from hardware.clock import Clock
from rfid.service import OpenedReader
from rfid.sim_keeper import DOSSIERS, dossier_code, enrolled_card
from vision.standsim import StandScene

log = logging.getLogger(__name__)

PAGES = (2, 6)
SPOILT_SHARE = 0.2
SPOILERS = (("blur",), ("overexposed",), ("finger",), ("duplicate",))
UPSIDE_DOWN_SHARE = 0.1
"""Pages laid upside down: good shots, which the stand turns upright."""
FIRST_SESSION_AFTER_S = (15.0, 45.0)
VERDICT_WAIT_S = 60.0
"""The longest the keeper waits for a verdict (rendering a 12 MP simulated photo takes seconds)."""


class SimulatedStandKeeper(Background):
    thread_name = "sim-stand-keeper"

    def __init__(
        self,
        session: CopyStandSession,
        scene: StandScene,
        reader: OpenedReader,
        pins: Factory,
        clock: Clock,
        key: tuple[int, bytes],
        per_hour: float,
        seed: str,
    ) -> None:
        super().__init__()
        self.session, self.scene, self.reader, self.pins = session, scene, reader, pins
        self.clock = clock
        self.key = key
        self.per_hour = per_hour
        self.rng = random.Random(seed)
        self.dossiers_done = 0

    def _pause(self, seconds: float) -> bool:
        """False once the keeper should stop."""
        return not self.clock.wait(self._stop, seconds)

    def _lay_tag(self, n: int) -> None:
        card = enrolled_card(n, *self.key)
        self.reader.field.enter(card)
        self._pause(self.rng.uniform(1.5, 3.0))
        self.reader.field.leave(card)

    def _shoot(self) -> bool:
        """Shoot what lies on the stand and wait for its verdict; True when the page came out good."""
        before = self.session.view
        pedal = self.session.stand.pedal_pin
        if self.session.stand.trigger == "pedal" and pedal is not None:
            pin = self.pins.pin(pedal)
            pin.drive_low()
            self._pause(0.2)
            pin.drive_high()
        elif self.session.stand.trigger != "auto":
            self.session.submit("shoot")
        after = self.session.wait_for_change(before.version, VERDICT_WAIT_S)
        while after.version != before.version and after.waiting_for and not self._stop.is_set():
            after = self.session.wait_for_change(after.version, VERDICT_WAIT_S)  # auto trigger: until it shoots
        while after.saving and not self._stop.is_set():  # and its files: a page not kept is laid again
            after = self.session.wait_for_change(after.version, VERDICT_WAIT_S)
        return after.last is not None and after.last is not before.last and after.last.ok and not after.retake

    def _digitize(self, n: int) -> None:
        self._lay_tag(n)
        if not self._pause(2.0) or self.session.view.dossier != dossier_code(n):
            return
        pages = self.rng.randint(*PAGES)
        for page in range(1, pages + 1):
            page_seed = n * 1000 + page
            spoil = self.rng.choice(SPOILERS) if self.rng.random() < SPOILT_SHARE else ()
            laid = ("upside_down",) if self.rng.random() < UPSIDE_DOWN_SHARE else ()
            self.scene.reach_in()
            if not self._pause(self.rng.uniform(1.0, 2.5)):
                return
            if spoil == ("duplicate",) and page > 1:
                self.scene.lay(page_seed - 1)  # forgot to turn the page
            else:
                self.scene.lay(page_seed, laid + (() if spoil == ("duplicate",) else spoil))
            if not self._pause(1.0):
                return
            for _ in range(3):  # shoot, and again as long as the station says so
                if self._shoot() or self._stop.is_set():
                    break
                self.scene.reach_in()
                self._pause(1.0)
                self.scene.lay(page_seed)
                self._pause(1.0)
        self.scene.clear()
        self._lay_tag(n)  # the same tag again ends the session
        self.dossiers_done += 1

    def _run(self) -> None:
        first = self.rng.uniform(*FIRST_SESSION_AFTER_S)  # someone at the stand soon after the demo starts
        while self._pause(first or self.rng.expovariate(self.per_hour / 3600.0)):
            first = 0.0
            try:
                self._digitize(self.rng.randint(1, DOSSIERS))
            except Exception:  # a simulated person must not take the gateway down
                log.exception("simulated stand keeper stumbled")
