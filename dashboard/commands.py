"""Commands from people to gateways: recorded, sent on the gateway's `cmd/` topic, answered by its ack.

The web app does not hold a broker connection of its own: `serve` hands it the ingest's (the dashboard
account may write only `cmd/` topics). Each command is stored as `pending` before it is sent, so a
command whose ack never comes stays visibly pending; the ingest marks it `applied` or `refused`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from dashboard.schema import iso
from gateway import protocol

Publisher = Callable[[str, bytes], bool]
"""Sends one message at QoS 1; False when the broker is out of reach."""


class CommandError(RuntimeError):
    """A command that could not be sent; the message says why."""


def send(
    conn: sqlite3.Connection,
    publish: Publisher | None,
    *,
    site: str,
    gateway: str,
    name: str,
    args: dict[str, Any],
    by: str,
) -> str:
    """Record and send one command; return its id."""
    if publish is None:
        raise CommandError("the dashboard is not connected to the broker; nothing was sent")
    command = protocol.Command(id=protocol.new_id(), ts=protocol.utc_now(), by=by, args=args)
    conn.execute(
        "INSERT INTO commands (id, site, gateway, name, args, by, sent, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
        (command.id, site, gateway, name, json.dumps(args), by, iso(command.ts)),
    )
    if not publish(protocol.Topics(site, gateway).cmd(name), command.to_json()):
        conn.execute(
            "UPDATE commands SET state = 'refused', detail = 'not sent: broker out of reach' WHERE id = ?",
            (command.id,),
        )
        raise CommandError("the broker is out of reach; the command was not sent")
    return command.id


def recent(conn: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, gateway, name, args, by, sent, state, detail, answered FROM commands ORDER BY sent DESC LIMIT ?",
        (limit,),
    ).fetchall()
    keys = ("id", "gateway", "name", "args", "by", "sent", "state", "detail", "answered")
    return [{**dict(zip(keys, row, strict=True)), "args": json.loads(row[3])} for row in rows]
