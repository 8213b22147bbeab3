"""Where dossiers live: the site's locations as a tree, site / room / shelf row / shelf / box.

The tree comes from the site config (`[tracking]`: each stack room's plan and its compact-shelving rows,
already validated there) and from the register (boxes: a dossier's home may name a box on a shelf). A
shelf is one side, column (节) and layer (层) of a row (列): `east-stack/r1-A-2-3`. A box is
`<shelf>/<box>`. Desks, doors and the copy stand are points: places a reader stands, not homes.

Any location may carry a location tag (kind `location`, docs/TAGS.md) whose code is the location's code;
a keeper scans it to say where the dossiers scanned next are (a stocktake).

Example:

    >>> from hardware.config import load
    >>> places = Locations(load("hardware/configs/demo.toml"))
    >>> [p.code for p in places.path("east-stack/r1-A-2-3/box-7")]
    ['demo', 'east-stack', 'east-stack/r1', 'east-stack/r1-A-2-3', 'east-stack/r1-A-2-3/box-7']
    >>> places.shelf_of("east-stack/r1-A-2-3/box-7"), places.reader_kind("desk")
    ('east-stack/r1-A-2-3', 'desk')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from hardware.config import SiteConfig

Kind = Literal["site", "room", "row", "shelf", "box", "desk", "door", "copy_stand"]
ReaderKind = Literal["desk", "door", "copy_stand", "station"]
BOX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
HOME_FIELDS = ("location", "home", "存放位置", "位置")
"""Register columns that give a dossier's home (a shelf or a box code); the first one present is used."""


@dataclass(frozen=True)
class Location:
    code: str
    kind: Kind
    parent: str | None
    room: str | None
    label: str
    row: str | None = None
    side: str | None = None
    column: int | None = None
    layer: int | None = None


class Locations:
    """The site's location tree (built once per app from its config)."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.by_code: dict[str, Location] = {}
        self.rooms: dict[str, list[str]] = {}
        """Each planned room's shelves, in the order they are counted."""
        self._add(Location(site.site.id, "site", None, None, site.site.name))
        names = {r.id: r.name for r in site.rooms}
        for plan in site.tracking.plans:
            room = plan.room
            self._add(Location(room, "room", site.site.id, room, names.get(room, room)))
            self.rooms[room] = []
            for row in plan.rows:
                row_code = f"{room}/{row.id}"
                self._add(Location(row_code, "row", room, room, row.label or row.id, row=row.id))
                for side in row.sides:
                    for column in range(1, row.columns + 1):
                        for layer in range(1, row.layers + 1):
                            code = f"{room}/{row.id}-{side}-{column}-{layer}"
                            label = f"{side}-{column}-{layer}"
                            self._add(Location(code, "shelf", row_code, room, label, row.id, side, column, layer))
                            self.rooms[room].append(code)
        for point in site.tracking.points:
            self._add(
                Location(point.code, point.kind, point.room or site.site.id, point.room, point.name or point.code)
            )

    def _add(self, location: Location) -> None:
        self.by_code[location.code] = location

    def get(self, code: str | None) -> Location | None:
        """The location with this code: configured, or a box on a configured shelf."""
        if not code:
            return None
        known = self.by_code.get(code)
        if known is not None:
            return known
        shelf, _, box = code.rpartition("/")
        parent = self.by_code.get(shelf)
        if parent is None or parent.kind != "shelf" or not BOX.match(box):
            return None
        return Location(code, "box", shelf, parent.room, f"{parent.label} / {box}", parent.row, parent.side,
                        parent.column, parent.layer)  # fmt: skip

    def path(self, code: str | None) -> list[Location]:
        """From the site down to the location (empty for an unknown code)."""
        found: list[Location] = []
        location = self.get(code)
        while location is not None:
            found.append(location)
            location = self.get(location.parent)
        return found[::-1]

    def shelf_of(self, code: str | None) -> str | None:
        """The shelf a shelf or box code is on; None for anything else."""
        location = self.get(code)
        if location is None:
            return None
        if location.kind == "shelf":
            return location.code
        return location.parent if location.kind == "box" else None

    def home(self, text: str) -> Location | None:
        """A register's home value as a shelf or box location; None if the site has no such place."""
        location = self.get(text.strip())
        return location if location is not None and location.kind in ("shelf", "box") else None

    def shelves_in(self, scope: str) -> list[str]:
        """Every shelf within a location: the site, a room, a row or one shelf."""
        location = self.get(scope)
        if location is None:
            return []
        if location.kind == "site":
            return [s for shelves in self.rooms.values() for s in shelves]
        if location.kind == "room":
            return list(self.rooms.get(location.code, []))
        if location.kind == "row":
            return [s for s in self.rooms.get(location.room or "", []) if self.by_code[s].parent == location.code]
        shelf = self.shelf_of(scope)
        return [shelf] if shelf else []

    def within(self, code: str | None, scope: str) -> bool:
        """Whether `code` is `scope` or somewhere under it."""
        return any(p.code == scope for p in self.path(code))

    def reader_kind(self, reader_location: str | None) -> ReaderKind:
        """What a reader standing at `reader_location` is for: desk, door, copy stand, or a keeper's station."""
        point = self.by_code.get(reader_location or "")
        if point is not None and point.kind in ("desk", "door", "copy_stand"):
            return point.kind  # type: ignore[return-value]
        return "station"

    def plan(self, room: str):  # -> RoomPlan | None
        return next((p for p in self.site.tracking.plans if p.room == room), None)


def home_of(fields: dict[str, str]) -> str:
    """The home a register row gives in one of HOME_FIELDS ('' when none)."""
    for name in HOME_FIELDS:
        value = fields.get(name, "").strip()
        if value:
            return value
    return ""
