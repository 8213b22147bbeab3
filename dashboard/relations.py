"""Users linked to person records of the register: nobody sees, requests or approves their own dossier or a relative's.

An administrator links a user to the dossier of the person they are (`self`) and to those of their
relatives (`storeroom dashboard user link`). Search never returns those dossiers to that user, their page
refuses them (audited), and a loan request or approval naming one is refused.

Example:

    >>> conn = connect_memory()
    >>> link(conn, user_id=1, code="DA-1", relation="self", by="admin")
    >>> sorted(barred(conn, 1)), relation_to(conn, 1, "DA-1"), relation_to(conn, 2, "DA-1")
    (['DA-1'], 'self', None)
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from dashboard.schema import iso

RELATIONS = ("self", "spouse", "parent", "child", "sibling", "relative")


class RelationError(ValueError):
    """A link that cannot be made; the message says why."""


def link(conn: sqlite3.Connection, *, user_id: int, code: str, relation: str, by: str) -> None:
    if relation not in RELATIONS:
        raise RelationError(f"relation {relation!r} is not one of {', '.join(RELATIONS)}")
    conn.execute(
        "INSERT INTO person_links (user_id, code, relation, linked, linked_by) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, code) DO UPDATE SET relation = excluded.relation, linked = excluded.linked,"
        " linked_by = excluded.linked_by",
        (user_id, code, relation, iso(datetime.now(UTC)), by),
    )


def unlink(conn: sqlite3.Connection, *, user_id: int, code: str) -> bool:
    return conn.execute("DELETE FROM person_links WHERE user_id = ? AND code = ?", (user_id, code)).rowcount == 1


def barred(conn: sqlite3.Connection, user_id: int) -> set[str]:
    """The dossier codes this user may not see: their own and their relatives'."""
    return {code for (code,) in conn.execute("SELECT code FROM person_links WHERE user_id = ?", (user_id,))}


def relation_to(conn: sqlite3.Connection, user_id: int, code: str) -> str | None:
    """How the user is related to the person of this dossier (`self`, `spouse`, ...), None if not at all."""
    row = conn.execute("SELECT relation FROM person_links WHERE user_id = ? AND code = ?", (user_id, code)).fetchone()
    return row[0] if row else None


def links(conn: sqlite3.Connection, user_id: int) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT code, relation FROM person_links WHERE user_id = ? ORDER BY code", (user_id,)
    ).fetchall()


def connect_memory() -> sqlite3.Connection:
    """An in-memory database with the schema (for examples and quick checks)."""
    import sqlite_utils

    from dashboard.schema import migrate

    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(sqlite_utils.Database(conn))
    return conn
