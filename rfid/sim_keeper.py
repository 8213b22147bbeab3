"""A simulated keeper who lays dossier tags on the simulated readers now and then, and takes stock, for the demo.

The dossiers' tags are "enrolled at the factory": written with the site's key into modelled cards, half
MIFARE Classic, half NTAG. Now and then one is a forged copy (the data of a genuine tag on another card),
so the demo shows what an invalid tag looks like. Timing follows the simulated clock.

Given the simulated storeroom's shelving (hardware/shelving.py), the keeper also takes stock: at a
station reader (one not at a desk, door or copy stand) it lays a shelf's location tag, then every dossier
that is on that shelf now, one after the other (`take_stock`); in its rounds it does so for the next
shelf of its gateway's rooms every so often (`stocktake_share` of its turns). At a desk it checks out the
dossiers of approved loans and, later, brings them back (`desk_work` says which, gateway/loans.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hardware.background import Background
from hardware.clock import Clock
from hardware.shelving import Shelving
from rfid import media, tagformat
from rfid.cards import Card, ClassicCard, NtagCard, blank_card
from rfid.service import OpenedReader

DOSSIERS = 40
FORGED_SHARE = 0.05
HELD_S = (2.0, 8.0)
READ_S = 0.6
"""Real seconds a tag stays on a reader at least: three of its 0.2 s polls."""
DOOR_SLIP_SHARE = 0.02
"""Of the keeper's turns, the share in which a dossier is carried through a door without a checkout."""
DESK_SHARE = 0.5
"""Of the keeper's turns while a loan waits at the desk (approved, or due back), the share spent on it."""
STOCKTAKE_HELD_S = (0.8, 1.5)
"""How long each tag lies on the reader during a stocktake, and about as long between two tags."""


def dossier_code(n: int) -> str:
    return f"DA-2026-{n:05d}"


def enrolled_card(n: int, key_id: int, key: bytes) -> Card:
    """Dossier n's tag: a Classic 1K for even n, an NTAG213 for odd, written with the site's key."""
    card = blank_card(random.Random(f"tag/{n}"), ntag=n % 2 == 1)
    payload = tagformat.encode("dossier", dossier_code(n), card.uid, key_id, key)
    for write in media.plan(payload, card.uid, media.media_for(card.uid), key):
        card.store(write.address, write.data)
    return card


def location_card(code: str, key_id: int, key: bytes) -> Card:
    """A shelf's location tag (a Classic 1K), written with the site's key."""
    card = blank_card(random.Random(f"location/{code}"), ntag=False)
    payload = tagformat.encode("location", code, card.uid, key_id, key)
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
    """Lays a tag on a random reader `per_hour` times an hour (simulated), holds it, takes it away; with a
    `shelving`, a share of those turns is a stocktake of the next shelf at one of the `stations`."""

    thread_name = "sim-keeper"

    def __init__(
        self,
        readers: list[OpenedReader],
        clock: Clock,
        key_id: int,
        key: bytes,
        per_hour: float,
        seed: str,
        *,
        shelving: Shelving | None = None,
        stations: list[str] | None = None,
        stocktake_share: float = 0.0,
        desk_work: Callable[[], list[str]] | None = None,
        desks: list[str] | None = None,
        doors: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.readers = [r for r in readers if r.field is not None]
        self.stations = [r for r in self.readers if stations is None or r.config.id in stations]
        self.per_hour = per_hour
        self.clock = clock
        self.rng = random.Random(seed)
        self.key_id, self.key = key_id, key
        self.cards = [enrolled_card(n, key_id, key) for n in range(1, DOSSIERS + 1)]
        self.shelving = shelving
        self.stocktake_share = stocktake_share if shelving and self.stations else 0.0
        self._next_shelf = 0
        self.desk_work = desk_work
        self.desks = [r for r in self.readers if r.config.id in (desks or [])]
        self.doors = [r for r in self.readers if r.config.id in (doors or [])]
        self.indoors = [r for r in self.readers if r not in self.doors] or self.readers

    def start(self) -> None:
        if self.readers and self.per_hour > 0:
            super().start()

    def _run(self) -> None:
        while not self.clock.wait(self._stop, self.rng.expovariate(self.per_hour / 3600.0)):
            work = self.desk_work() if self.desk_work and self.desks else []
            if work and self.rng.random() < DESK_SHARE:
                self.at_desk(work[0])
                continue
            if self.rng.random() < self.stocktake_share:
                assert self.shelving is not None
                shelves = self.shelving.stocked()
                self.take_stock(shelves[self._next_shelf % len(shelves)])
                self._next_shelf += 1
                continue
            # Dossiers pass a door only when checked out; now and then one slips out without (the door's alarm).
            slip = self.doors and self.rng.random() < DOOR_SLIP_SHARE
            opened = self.rng.choice(self.doors if slip else self.indoors)
            card = self.rng.choice(self.cards)
            if self.rng.random() < FORGED_SHARE:
                card = forged_copy(card, self.rng)
            self._lay(opened, card, HELD_S)

    def _lay(self, opened: OpenedReader, card: Card, held: tuple[float, float]) -> bool:
        """One tag on the reader for a while, then off it; False if the keeper was told to stop."""
        assert opened.field is not None
        opened.field.enter(card)
        # However fast the simulated clock runs, a tag lies there long enough for the reader's polls to see it.
        stopped = self.clock.wait(self._stop, max(self.rng.uniform(*held), READ_S * getattr(self.clock, "speed", 1.0)))
        opened.field.leave(card)
        return not stopped

    def at_desk(self, code: str) -> bool:
        """Lay dossier `code` on a desk reader: a checkout against its approved loan, or its return."""
        numbers = [n for n in range(1, len(self.cards) + 1) if dossier_code(n) == code]
        if not numbers or not self.desks:
            return False
        return self._lay(self.desks[0], self.cards[numbers[0] - 1], HELD_S)

    def take_stock(self, shelf: str) -> list[str]:
        """Scan `shelf`'s location tag, then each dossier on it now, at a station; the codes scanned."""
        if self.shelving is None or not self.stations:
            raise RuntimeError("this keeper has no shelving or no station reader to take stock with")
        station = self.stations[0]
        scanned = []
        for card, code in [(location_card(shelf, self.key_id, self.key), shelf)] + [
            (self.cards[n - 1], dossier_code(n)) for n in self.shelving.on_shelf(shelf) if n <= len(self.cards)
        ]:
            gap = max(0.8, READ_S * getattr(self.clock, "speed", 1.0))  # off the reader before the next one
            if not self._lay(station, card, STOCKTAKE_HELD_S) or self.clock.wait(self._stop, gap):
                break
            scanned.append(code)
        return scanned
