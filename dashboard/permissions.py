"""Permission management: badge holders and room rules kept in the dashboard's database, published to the
gateways as the signed permission document (docs/PROTOCOL.md, `cmd/permissions`, retained).

Each publication gets the next version and is kept (`access_documents`), so what was in force when is on
record. The document is signed with the site's access key (`<secrets>/access.key`, made on first use);
the gateways check it with the same key and refuse anything else.

A staff holder is the dashboard user of the same name (`Holder.id` is the user name; docs/PROTOCOL.md).
Disabling that user disables the holder in every document issued from then on, whatever the holder's own
flag says, so one switch on the users page shuts both the dashboard and the doors (`for_document`);
re-enabling the user gives the holder back its own flag. Visitors have no dashboard account.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from dashboard.schema import iso
from gateway import protocol
from hardware.access_key import access_key
from hardware.config import SiteConfig

RetainedPublisher = Callable[..., bool]
"""The ingest's `publish(topic, payload, retain=True)`."""


class HolderError(ValueError):
    """A holder or rule that cannot go into a document; the message says which field and why."""


HOLDER_COLUMNS = "id, name, kind, disabled, badges, grants"


def _holder(row: tuple) -> protocol.Holder:
    holder_id, name, kind, disabled, badges, grants = row
    fields = {"id": holder_id, "name": name, "kind": kind, "disabled": bool(disabled)}
    return protocol.Holder.model_validate_json(
        json.dumps(fields | {"badges": json.loads(badges), "grants": json.loads(grants)})
    )


def holders(conn: sqlite3.Connection) -> list[protocol.Holder]:
    return [_holder(row) for row in conn.execute(f"SELECT {HOLDER_COLUMNS} FROM access_holders ORDER BY id")]


def holder(conn: sqlite3.Connection, holder_id: str) -> protocol.Holder | None:
    """One holder as saved, or None."""
    row = conn.execute(f"SELECT {HOLDER_COLUMNS} FROM access_holders WHERE id = ?", (holder_id,)).fetchone()
    return None if row is None else _holder(row)


def disabled_users(conn: sqlite3.Connection) -> set[str]:
    """Names of the disabled dashboard users: the staff holders of those names are refused at the doors."""
    return {name for (name,) in conn.execute("SELECT name FROM users WHERE disabled")}


def for_document(conn: sqlite3.Connection) -> list[protocol.Holder]:
    """The holders as the next document carries them: a staff holder whose dashboard user is disabled is
    disabled too (the gateway refuses its badges as `user_disabled`)."""
    off = disabled_users(conn)
    return [h.model_copy(update={"disabled": True}) if h.kind == "staff" and h.id in off else h for h in holders(conn)]


def is_holder(conn: sqlite3.Connection, user_name: str) -> bool:
    """Whether the dashboard user `user_name` is a staff badge holder (so a change to them concerns the doors)."""
    row = conn.execute("SELECT 1 FROM access_holders WHERE id = ? AND kind = 'staff'", (user_name,)).fetchone()
    return row is not None


def holder_from(raw: dict[str, Any]) -> protocol.Holder:
    """Validate a holder as the document will carry it; HolderError naming the field otherwise."""
    try:
        return protocol.Holder.model_validate_json(json.dumps(raw))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HolderError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


def save_holder(conn: sqlite3.Connection, holder: protocol.Holder, by: str) -> None:
    taken = {
        b.number: h.id for h in holders(conn) if h.id != holder.id for b in h.badges
    }  # a badge belongs to one holder
    for badge in holder.badges:
        if badge.number in taken:
            raise HolderError(f"badge {badge.number} already belongs to {taken[badge.number]}")
    data = holder.model_dump(mode="json")
    conn.execute(
        "INSERT INTO access_holders (id, name, kind, disabled, badges, grants, updated, updated_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
        " disabled = excluded.disabled, badges = excluded.badges, grants = excluded.grants,"
        " updated = excluded.updated, updated_by = excluded.updated_by",
        (
            holder.id,
            holder.name,
            holder.kind,
            int(holder.disabled),
            json.dumps(data["badges"]),
            json.dumps(data["grants"]),
            iso(datetime.now(UTC)),
            by,
        ),
    )


def rooms(conn: sqlite3.Connection) -> dict[str, protocol.RoomRule]:
    rows = conn.execute("SELECT room, two_person, window_s, anti_passback FROM access_rooms ORDER BY room").fetchall()
    return {r: protocol.RoomRule(two_person=bool(t), window_s=float(w), anti_passback=bool(a)) for r, t, w, a in rows}


def save_room(conn: sqlite3.Connection, room: str, rule: protocol.RoomRule) -> None:
    conn.execute(
        "INSERT INTO access_rooms (room, two_person, window_s, anti_passback) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (room) DO UPDATE SET two_person = excluded.two_person, window_s = excluded.window_s,"
        " anti_passback = excluded.anti_passback",
        (room, int(rule.two_person), rule.window_s, int(rule.anti_passback)),
    )


def latest(conn: sqlite3.Connection) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT version, issued, issued_by FROM access_documents ORDER BY version DESC LIMIT 1"
    ).fetchone()
    return None if row is None else {"version": row[0], "issued": row[1], "issued_by": row[2]}


def issue(conn: sqlite3.Connection, site: SiteConfig, by: str) -> protocol.PermissionDocument:
    """The next version of the document, from what the database holds now, signed and kept."""
    last = latest(conn)
    document = protocol.PermissionDocument(
        version=(last["version"] if last else 0) + 1,
        issued=datetime.now(UTC).replace(microsecond=0),
        issued_by=by,
        site=site.site.id,
        rooms=rooms(conn),
        holders=for_document(conn),
    ).signed(access_key(site, create=True))
    conn.execute(
        "INSERT INTO access_documents (version, issued, issued_by, document) VALUES (?, ?, ?, ?)",
        (document.version, iso(document.issued), by, document.to_json().decode()),
    )
    return document


def door_gateways(site: SiteConfig) -> list[str]:
    """The gateways with at least one badge door: those a permission document goes to."""
    return [g for g in site.gateway_ids if any(room.badge_door for room in site.rooms_of(g))]


def publish(document: protocol.PermissionDocument, site: SiteConfig, publisher: RetainedPublisher) -> list[str]:
    """Send the document, retained, to every gateway with a badge door; the gateways it could not reach."""
    return [
        gateway
        for gateway in door_gateways(site)
        if not publisher(protocol.Topics(site.site.id, gateway).permissions, document.to_json(), retain=True)
    ]


def gateway_versions(conn: sqlite3.Connection) -> dict[str, int | None]:
    """Which version each gateway says it runs (its latest birth or permissions event)."""
    rows = conn.execute(
        "SELECT gateway, data FROM events WHERE kind = 'permissions' AND json_extract(data, '$.applied') ORDER BY ts"
    ).fetchall()
    return {gateway: json.loads(data).get("running") for gateway, data in rows}
