"""The simulated storeroom's shelving: which dossier sits on which shelf, for the demo and its simulated keeper.

Dossier n (1-based) lives on the (n-1)//PER_SHELF-th shelf of the site's planned rooms, in the order the
plans list them (room by room, row by row, side, column, layer; location codes as in hardware/config.py).
The demo's register says so, and the simulated keeper finds them there when it takes stock, except those
a test or the world has moved (`Shelving.move`) or taken away (`Shelving.remove`).

Example:

    >>> from hardware.config import load
    >>> shelving = Shelving(load("hardware/configs/demo.toml"), dossiers=10)
    >>> shelving.home(1), shelving.home(5)
    ('east-stack/r1-A-1-1', 'east-stack/r1-A-1-2')
    >>> shelving.move(5, "east-stack/r1-A-1-1"); shelving.on_shelf("east-stack/r1-A-1-1")
    [1, 2, 3, 4, 5]
"""

from __future__ import annotations

from hardware.config import SiteConfig

PER_SHELF = 4


def shelves(site: SiteConfig) -> list[str]:
    """Every shelf of the site's plans, in order."""
    return [code for plan in site.tracking.plans for row in plan.rows for code in row.shelves(plan.room)]


class Shelving:
    """Where each of `dossiers` simulated dossiers is now (None: not on any shelf)."""

    def __init__(self, site: SiteConfig, dossiers: int) -> None:
        self.shelves = shelves(site)
        self.homes = {n: self._home(n) for n in range(1, dossiers + 1)}
        self.places: dict[int, str | None] = dict(self.homes)

    def _home(self, n: int) -> str | None:
        index = (n - 1) // PER_SHELF
        return self.shelves[index] if index < len(self.shelves) else None

    def home(self, n: int) -> str | None:
        return self.homes.get(n)

    def move(self, n: int, shelf: str | None) -> None:
        self.places[n] = shelf

    def remove(self, n: int) -> None:
        self.places[n] = None

    def on_shelf(self, shelf: str) -> list[int]:
        return sorted(n for n, place in self.places.items() if place == shelf)

    def plant_demo_mistakes(self) -> None:
        """The demo storeroom's own mistakes, for its stocktakes to find: dossier 6 put back on dossier 14's
        shelf, dossier 11 gone."""
        self.move(6, self.home(14))
        self.remove(11)

    def stocked(self) -> list[str]:
        """The shelves that are some dossier's home, in order."""
        homes = set(self.homes.values())
        return [s for s in self.shelves if s in homes]
