"""The demo's people at the doors: the permission document that goes with the simulated badges.

The simulated staff carry the badges of `hardware.door_world.DEMO_BADGES`; this gives them their rooms
(weekdays 08:00-18:00, the facilities engineer any time), one visitor badge for today, and the two-person
rule in the east stack. The stranger's badge is in nobody's hands: refused as unknown.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway import protocol
from hardware.config import SiteConfig
from hardware.door_world import DEMO_BADGES

OFFICE_HOURS = [protocol.TimeWindow(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")]
NAMES = {"keeper": "Wang Fang", "archivist": "Li Na", "facilities": "Zhang Wei", "admin": "Liu Yang"}


def demo_document(site: SiteConfig, version: int = 1, *, by: str = "demo") -> protocol.PermissionDocument:
    """Unsigned; sign it with the site's access key (`PermissionDocument.signed`)."""
    stacks = [room.id for room in site.rooms if not room.outdoor and any(d.access for d in room.doors)]
    holders = []
    for badge in DEMO_BADGES:
        if badge.holder == "stranger":
            continue
        visitor = badge.holder.startswith("visitor")
        windows = [] if badge.holder == "facilities" else OFFICE_HOURS
        holders.append(
            protocol.Holder(
                id=badge.holder,
                name=NAMES.get(badge.holder, "Visitor"),
                kind="visitor" if visitor else "staff",
                badges=[protocol.BadgeEntry(number=badge.number)],
                grants=[protocol.RoomGrant(room=room, windows=windows) for room in stacks],
            )
        )
    two_person = {"east-stack"} & set(stacks)
    return protocol.PermissionDocument(
        version=version,
        issued=datetime.now(UTC).replace(microsecond=0),
        issued_by=by,
        site=site.site.id,
        rooms={room: protocol.RoomRule(two_person=room in two_person) for room in stacks},
        holders=holders,
    )
