"""The demo's people at the doors: the permission document that goes with the simulated badges.

The simulated staff carry the badges of `hardware.door_world.DEMO_BADGES`; this gives them their rooms
(weekdays 08:00-18:00, the facilities engineer any time; in the demo every staff member any time), one visitor
badge (office hours), and the two-person
rule in the east stack. The stranger's badge is in nobody's hands: refused as unknown.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from gateway import protocol
from hardware.config import SiteConfig
from hardware.door_world import DEMO_BADGES

OFFICE_HOURS = [protocol.TimeWindow(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")]
NAMES = {"keeper": "Wang Fang", "archivist": "Li Na", "facilities": "Zhang Wei", "admin": "Liu Yang"}


def demo_document(
    site: SiteConfig, version: int = 1, *, by: str = "demo", any_time: tuple[str, ...] = ("facilities",)
) -> protocol.PermissionDocument:
    """Unsigned; sign it with the site's access key (`PermissionDocument.signed`). Holders in `any_time`
    may enter at any hour; the others on weekdays 08:00-18:00."""
    stacks = [room.id for room in site.rooms if not room.outdoor and room.badge_door]
    holders = []
    for badge in DEMO_BADGES:
        if badge.holder == "stranger":
            continue
        visitor = badge.holder.startswith("visitor")
        windows = [] if badge.holder in any_time else OFFICE_HOURS
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


def seed_dashboard(conn: sqlite3.Connection, site: SiteConfig) -> protocol.PermissionDocument:
    """Give the demo's badge holders and room rules to a new dashboard and issue version 1 (audited); on later
    starts, the latest version published. The demo then publishes it (`publish_retained`)."""
    from dashboard import permissions
    from dashboard.audit import record

    row = conn.execute("SELECT document FROM access_documents ORDER BY version DESC LIMIT 1").fetchone()
    if row:
        return protocol.PermissionDocument.model_validate_json(row[0])
    # Staff at any hour, so whenever the demo runs it shows pairs going in; the visitor in office hours only.
    document = demo_document(site, any_time=tuple(NAMES))
    for holder in document.holders:
        permissions.save_holder(conn, holder, "demo")
    for room, rule in document.rooms.items():
        permissions.save_room(conn, room, rule)
    issued = permissions.issue(conn, site, "demo")
    record(conn, actor="demo", action="access_published", obj="doors/permissions", detail={"version": issued.version})
    return issued


def publish_retained(site: SiteConfig, document: protocol.PermissionDocument, host: str, port: int) -> None:
    """Send the document, retained, to each gateway's `cmd/permissions` as the dashboard account."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from dashboard import permissions
    from hardware.broker import ACCOUNT_DASHBOARD, read_password

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="demo-permissions")
    client.username_pw_set(ACCOUNT_DASHBOARD, read_password(site, ACCOUNT_DASHBOARD))
    client.connect(host, port)
    client.loop_start()
    try:
        sent = []

        def send(topic: str, payload: bytes, *, retain: bool) -> bool:
            sent.append(client.publish(topic, payload, qos=1, retain=retain))
            return True

        permissions.publish(document, site, send)
        for info in sent:
            info.wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
