"""A simulated keeper who lays dossier tags on the simulated readers now and then, for the demo.

The dossiers' tags are "enrolled at the factory": written with the site's key into modelled cards, half
MIFARE Classic, half NTAG. Now and then one is a forged copy (the data of a genuine tag on another card),
so the demo shows what an invalid tag looks like. Timing follows the simulated clock.
"""

from __future__ import annotations

import random

from hardware.background import Background
from hardware.clock import Clock
from rfid import media, tagformat
from rfid.cards import Card, ClassicCard, NtagCard, blank_card
from rfid.service import OpenedReader

DOSSIERS = 40
FORGED_SHARE = 0.05
HELD_S = (2.0, 8.0)


def dossier_code(n: int) -> str:
    return f"DA-2026-{n:05d}"


def enrolled_card(n: int, key_id: int, key: bytes) -> Card:
    """Dossier n's tag: a Classic 1K for even n, an NTAG213 for odd, written with the site's key."""
    card = blank_card(random.Random(f"tag/{n}"), ntag=n % 2 == 1)
    payload = tagformat.encode("dossier", dossier_code(n), card.uid, key_id, key)
    for write in media.plan(payload, card.uid, media.media_for(card.uid), key):
        card.store(write.address, write.data)
    return card


def forged_copy(card: Card, rng: random.Random) -> Card:
    """The data of a genuine tag copied onto a blank card of the same type (another UID)."""
    if isinstance(card, ClassicCard):
        copy = blank_card(rng, ntag=False)
        for block in (*media.CLASSIC_BLOCKS, media.CLASSIC_TRAILER):
            copy.store(block, bytes(card.memory[block]))
        return copy
    assert isinstance(card, NtagCard)
    copy = blank_card(rng, ntag=True)
    for page in range(media.NTAG_FIRST_PAGE, media.NTAG_FIRST_PAGE + 12):
        copy.store(page, bytes(card.pages[page]))
    return copy


class SimulatedKeeper(Background):
    """Lays a tag on a random reader `per_hour` times an hour (simulated), holds it, takes it away."""

    thread_name = "sim-keeper"

    def __init__(
        self, readers: list[OpenedReader], clock: Clock, key_id: int, key: bytes, per_hour: float, seed: str
    ) -> None:
        super().__init__()
        self.readers = [r for r in readers if r.field is not None]
        self.per_hour = per_hour
        self.clock = clock
        self.rng = random.Random(seed)
        self.cards = [enrolled_card(n, key_id, key) for n in range(1, DOSSIERS + 1)]

    def start(self) -> None:
        if self.readers:
            super().start()

    def _run(self) -> None:
        while not self.clock.wait(self._stop, self.rng.expovariate(self.per_hour / 3600.0)):
            opened = self.rng.choice(self.readers)
            card = self.rng.choice(self.cards)
            if self.rng.random() < FORGED_SHARE:
                card = forged_copy(card, self.rng)
            opened.field.enter(card)
            self.clock.wait(self._stop, self.rng.uniform(*HELD_S))
            opened.field.leave(card)
