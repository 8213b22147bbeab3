"""The dashboard's database: every message the site's gateways send, taken in once, and what it tells.

`Store.ingest` is the only way in. It validates with the wire protocol (`gateway/protocol.py`), refuses
what does not follow it (counted per reason, a few recent ones kept for people to look at, logged) and
stores the rest idempotently on (site, gateway, seq): the gateways send at least once, so repeats are
normal and change nothing. A seq that jumps ahead opens a gap; the missing messages, when they come,
shrink, split or close it.

The queries (`rooms`, `gateways`, `ingest_stats`, `recent_rejects`) read what the pages and the API show.

A `Store` holds one SQLite connection and must be used from the thread that opened it (sqlite3's
default); give each thread its own. The file is in WAL mode, so the web server's readers never block
the ingest's writes nor the other way round.

Example:

    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime
    >>> from gateway import protocol
    >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "dashboard.db")
    >>> reading = protocol.Reading(id="r1", seq=1, ts=datetime(2026, 11, 22, 8, tzinfo=UTC), room="east-stack",
    ...                            sensor="dht-1", state="ok", temperature_c=21.3, humidity_rh=58.6)
    >>> topic = protocol.Topics("demo", "gw-east").telemetry("east-stack", "dht-1")
    >>> store.ingest(topic, reading.to_json()).outcome
    'accepted'
    >>> store.ingest(topic, reading.to_json()).outcome
    'duplicate'
    >>> store.ingest(topic, b"{not json").reason
    'not_json'
    >>> store.rooms(datetime(2026, 11, 22, 8, 0, 12, tzinfo=UTC))[0]["age_s"]
    12.0
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from dashboard import alerts, pages, readout
from dashboard.schema import iso, migrate
from gateway import protocol
from hardware.config import SiteConfig

log = logging.getLogger(__name__)

Outcome = Literal["accepted", "duplicate", "conflict", "ignored", "refused"]

SWITCHES = {"relay": "on", "door": "open"}
"""Event kinds that report a two-state device, and the boolean in the event's `data` that says which state."""

KEEP_REJECTS = 100
"""How many refused messages are kept to be looked at; older ones are only counted."""
PREVIEW_BYTES = 200
LOG_EVERY_S = 10.0
"""A flood of bad messages logs one line per reason per this many seconds, with how many were not logged."""

DEFAULT_STALE_AFTER_S = 120.0


class StorageError(RuntimeError):
    """The database could not take a message (locked too long, disk full): it was not stored, deliver it again."""


@dataclass(frozen=True)
class IngestResult:
    """What became of one received message."""

    outcome: Outcome
    reason: str = ""
    """Why it was refused (a ProtocolError reason) or ignored ('stale_status', 'command'); '' otherwise."""
    detail: str = ""
    kind: str | None = None
    gateway: str | None = None
    seq: int | None = None

    @property
    def stored(self) -> bool:
        return self.outcome == "accepted"


def shown_safely(data: bytes | str, limit: int) -> str:
    """At most `limit` bytes or characters of untrusted input, fit to show a person and to log.

    Bytes that are not UTF-8 and characters that are not printable (controls, bidi overrides) become
    escapes, so a hostile payload can neither break a log line nor disguise itself on the page.
    """
    cut = data[:limit]
    text = cut.decode("utf-8", "backslashreplace") if isinstance(cut, bytes) else cut
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return shown + ("…" if len(data) > limit else "")


class Store:
    """The dashboard database at `path`, created and migrated on first use unless opened `readonly`."""

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.stale_after_s = stale_after_s
        if readonly:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout_s)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=busy_timeout_s)
        self.db = sqlite_utils.Database(conn)
        self._conn = conn
        if not readonly:
            self.db.enable_wal()
            migrate(self.db)
        self._log_quiet: dict[str, tuple[float, int]] = {}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the site config ------------------------------------------------------------------------

    def sync_config(self, site: SiteConfig) -> None:
        """Record the configured gateways, rooms and devices, so the page shows them before any message.

        The config names things for the dashboard: a configured name wins over one a birth announces.
        What the config no longer lists stays known (it may still talk) but is no longer `configured`.
        """
        sid = site.site.id
        with self._writing():
            for table in ("gateways", "rooms", "sensors", "devices"):
                self._conn.execute(f"UPDATE {table} SET configured = 0 WHERE site = ?", (sid,))
            for i, gateway in enumerate(site.gateways):
                self.db["gateways"].upsert(
                    {"site": sid, "gateway": gateway.id, "name": gateway.name, "configured": 1, "position": i},
                    pk=("site", "gateway"),
                )
            for i, room in enumerate(site.rooms):
                key = {"site": sid, "room": room.id}
                self.db["rooms"].upsert(
                    {**key, "name": room.name, "gateway": room.gateway, "configured": 1, "position": i},
                    pk=("site", "room"),
                )
                for sensor in room.sensors:
                    self.db["sensors"].upsert(
                        {**key, "sensor": sensor.id, "type": sensor.type, "configured": 1},
                        pk=("site", "room", "sensor"),
                    )
                for relay in room.relays:
                    self.db["devices"].upsert(
                        {**key, "device": relay.id, "kind": "relay", "type": relay.kind, "configured": 1},
                        pk=("site", "room", "device"),
                    )
                for door in room.doors:
                    self.db["devices"].upsert(
                        {**key, "device": door.id, "kind": "door", "configured": 1},
                        pk=("site", "room", "device"),
                    )

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(self, topic: str, payload: bytes, received: datetime | None = None) -> IngestResult:
        """Take in one message as received from the broker; say what became of it.

        Never raises for a bad message: it is refused, counted and logged, and the next one is taken as
        usual. Raises `StorageError` only when the database itself cannot take a write, so the caller can
        leave the message unacknowledged and have the broker deliver it again.
        """
        at = iso(received or protocol.utc_now())
        try:
            message = protocol.parse(topic, payload)
        except protocol.ProtocolError as exc:
            return self._refuse(topic, payload, exc.reason, str(exc), at)
        try:
            with self._writing():
                result = self._take(message, at)
                self._count(result.outcome, result.reason, at)
            return result
        except sqlite3.OperationalError as exc:
            raise StorageError(f"{self.path}: cannot store {shown_safely(topic, 200)}: {exc}") from exc
        except Exception as exc:  # a bug of ours with this message must not stop the ingest
            log.exception("could not store %s", shown_safely(topic, 200))
            return self._refuse(topic, payload, "internal_error", f"{type(exc).__name__}: {exc}", at)

    def _take(self, message: protocol.Message, at: str) -> IngestResult:
        site, gateway = message.site, message.gateway
        self._conn.execute("INSERT OR IGNORE INTO gateways (site, gateway) VALUES (?, ?)", (site, gateway))
        if message.kind == "status":
            return self._status(message, at)
        if message.kind in ("cmd", "permissions"):
            # Commands to a gateway pass through the same topics; the dashboard records its own when it sends them
            # (the permission documents it publishes in access_documents).
            return IngestResult("ignored", "command", kind="cmd", gateway=gateway)
        body = message.payload
        assert isinstance(body, protocol.Reading | protocol.RoomValue | protocol.Event | protocol.Birth | protocol.Ack)
        repeat = self._seen(message, at)
        if repeat:
            return repeat
        row = {
            "site": site,
            "gateway": gateway,
            "seq": body.seq,
            "ts": iso(body.ts),
            "received": at,
        }
        if isinstance(body, protocol.Reading):
            self._reading(row, body)
        elif isinstance(body, protocol.RoomValue):
            self._room_value(row, body)
        elif isinstance(body, protocol.Event):
            self._event(row, body)
        elif isinstance(body, protocol.Birth):
            self._birth(row, body)
        else:
            self.db["acks"].insert(
                {**row, "command": body.command, "command_id": body.command_id, "ok": body.ok, "detail": body.detail}
            )
            self._conn.execute(
                "UPDATE commands SET state = ?, detail = ?, answered = ? WHERE id = ? AND gateway = ?",
                ("applied" if body.ok else "refused", body.detail, at, body.command_id, gateway),
            )
        return IngestResult("accepted", kind=message.kind, gateway=gateway, seq=body.seq)

    def _seen(self, message: protocol.Message, at: str) -> IngestResult | None:
        """Enter a sequenced message in the ledger and advance its gateway; or, for a repeat, say so."""
        body = message.payload
        key = (message.site, message.gateway, body.seq)
        known = self._conn.execute("SELECT id FROM messages WHERE site = ? AND gateway = ? AND seq = ?", key).fetchone()
        if known and known[0] == body.id:
            self._conn.execute(
                "UPDATE gateways SET duplicates = duplicates + 1 WHERE site = ? AND gateway = ?", key[:2]
            )
            return IngestResult("duplicate", kind=message.kind, gateway=message.gateway, seq=body.seq)
        if known:
            # Same seq, another message: the gateway lost its counter (a new outbox?). Keep the first.
            detail = f"{message.gateway} seq {body.seq} is message {known[0]!r} already; {body.id!r} dropped"
            log.warning("seq conflict: %s", detail)
            return IngestResult("conflict", "seq_reused", detail, message.kind, message.gateway, body.seq)
        self.db["messages"].insert(
            {
                "site": key[0],
                "gateway": key[1],
                "seq": body.seq,
                "id": body.id,
                "kind": message.kind,
                "topic": message.topic,
                "ts": iso(body.ts),
                "synced": body.synced,
                "historical": body.historical,
                "received": at,
            }
        )
        self._advance(*key, at)
        return None

    def _advance(self, site: str, gateway: str, seq: int, at: str) -> None:
        """Move the gateway's high-water mark, opening a gap when seq jumps ahead or filling one when it is late.

        The first message ever seen of a gateway starts its history: what it sent before the dashboard
        listened is not counted as missing.
        """
        where = (site, gateway)
        (last,) = self._conn.execute("SELECT last_seq FROM gateways WHERE site = ? AND gateway = ?", where).fetchone()
        gap_changed = False
        if last is None or seq > last:
            if last is not None and seq > last + 1:
                gap_changed = True
                self.db["gaps"].insert(
                    {"site": site, "gateway": gateway, "first": last + 1, "last": seq - 1, "opened": at}
                )
                log.warning("%s: seq jumped from %d to %d; %d message(s) missing", gateway, last, seq, seq - last - 1)
            self._conn.execute("UPDATE gateways SET last_seq = ? WHERE site = ? AND gateway = ?", (seq, *where))
        else:
            gap = self._conn.execute(
                "SELECT first, last, opened FROM gaps WHERE site = ? AND gateway = ? AND first <= ? AND last >= ?",
                (*where, seq, seq),
            ).fetchone()
            if gap:
                gap_changed = True
                first, end, opened = gap
                self._conn.execute("DELETE FROM gaps WHERE site = ? AND gateway = ? AND first = ?", (*where, first))
                for a, b in ((first, seq - 1), (seq + 1, end)):
                    if a <= b:
                        self.db["gaps"].insert(
                            {"site": site, "gateway": gateway, "first": a, "last": b, "opened": opened}
                        )
        if gap_changed:
            (missing,) = self._conn.execute(
                "SELECT coalesce(sum(last - first + 1), 0) FROM gaps WHERE site = ? AND gateway = ?", where
            ).fetchone()
            alerts.on_gaps(self._conn, site=site, gateway=gateway, missing=missing, at=at)
        self._conn.execute(
            "UPDATE gateways SET messages = messages + 1, last_seen = ? WHERE site = ? AND gateway = ?", (at, *where)
        )

    def _reading(self, row: dict[str, Any], body: protocol.Reading) -> None:
        self.db["readings"].insert(
            {
                **row,
                "room": body.room,
                "sensor": body.sensor,
                "synced": body.synced,
                "historical": body.historical,
                "state": body.state,
                "temperature_c": body.temperature_c,
                "humidity_rh": body.humidity_rh,
                "error": body.error,
                "age_s": body.age_s,
            }
        )
        site, gateway, seq = row["site"], row["gateway"], row["seq"]
        self._known_room(site, body.room, gateway)
        key = (site, body.room, body.sensor)
        self._conn.execute("INSERT OR IGNORE INTO sensors (site, room, sensor) VALUES (?, ?, ?)", key)
        values = {
            "site": site,
            "room": body.room,
            "sensor": body.sensor,
            "gateway": gateway,
            "seq": seq,
            "ts": row["ts"],
            "received": row["received"],
        }
        # Only a newer reading replaces the latest: a late one (filling a gap) is history, not news.
        # (A room moved to another gateway starts afresh: seqs of different gateways do not compare.)
        if body.temperature_c is not None or body.humidity_rh is not None:
            self._conn.execute(
                """UPDATE sensors SET value_seq = :seq, temperature_c = :t, humidity_rh = :h, value_ts = :ts,
                          value_synced = :synced, value_received = :received
                   WHERE site = :site AND room = :room AND sensor = :sensor
                     AND (value_seq IS NULL OR value_seq < :seq OR gateway IS NOT :gateway)""",
                {**values, "t": body.temperature_c, "h": body.humidity_rh, "synced": body.synced},
            )
        self._conn.execute(
            """UPDATE sensors SET gateway = :gateway, seq = :seq, state = :state, error = :error, ts = :ts
               WHERE site = :site AND room = :room AND sensor = :sensor
                 AND (seq IS NULL OR seq < :seq OR gateway IS NOT :gateway)""",
            {**values, "state": body.state, "error": body.error},
        )

    def _event(self, row: dict[str, Any], body: protocol.Event) -> None:
        self.db["events"].insert(
            {
                **row,
                "kind": body.kind,
                "severity": body.severity,
                "room": body.room,
                "device": body.device,
                "message": body.message,
                "data": json.dumps(body.data, ensure_ascii=False),
                "synced": body.synced,
                "historical": body.historical,
            }
        )
        alerts.on_event(self._conn, row, body)
        pages.on_event(self._conn, row, body)
        field = SWITCHES.get(body.kind)
        if field and body.room and body.device and isinstance(body.data.get(field), bool):
            self._known_room(row["site"], body.room, row["gateway"])
            kind_of = body.data.get("kind")
            self._switch(
                row,
                body.room,
                body.device,
                body.kind,
                bool(body.data[field]),
                kind_of if isinstance(kind_of, str) else None,
            )

        if body.kind == "strike" and body.room and body.device and isinstance(body.data.get("locked"), bool):
            self._known_room(row["site"], body.room, row["gateway"])
            self._lock(row, body.room, body.device, body.data["locked"])

    def _birth(self, row: dict[str, Any], body: protocol.Birth) -> None:
        site, gateway = row["site"], row["gateway"]
        self._conn.execute(
            """UPDATE gateways SET software = ?, name = CASE WHEN configured THEN name ELSE ? END
               WHERE site = ? AND gateway = ?""",
            (body.software, body.name, site, gateway),
        )
        for room in body.rooms:
            self._known_room(site, room.id, gateway)
            self._conn.execute(
                """UPDATE rooms SET gateway = ?, name = CASE WHEN configured THEN name ELSE ? END
                   WHERE site = ? AND room = ?""",
                (gateway, room.name, site, room.id),
            )
            for sensor in room.sensors:
                self._conn.execute(
                    "INSERT OR IGNORE INTO sensors (site, room, sensor) VALUES (?, ?, ?)", (site, room.id, sensor)
                )
            for relay in room.relays:
                self._switch(row, room.id, relay.id, "relay", relay.on, relay.kind)
            for door in room.doors:
                self._switch(row, room.id, door.id, "door", door.open, None)
                if door.locked is not None:
                    self._lock(row, room.id, door.id, door.locked)
            if room.humidity_band:
                self._conn.execute(
                    "UPDATE rooms SET humidity_low = ?, humidity_high = ? WHERE site = ? AND room = ?",
                    (*room.humidity_band, site, room.id),
                )

    def _room_value(self, row: dict[str, Any], body: protocol.RoomValue) -> None:
        """Which sensors the room's value comes from, and its mould index; a late message changes nothing."""
        self._known_room(row["site"], body.room, row["gateway"])
        self._conn.execute(
            """UPDATE rooms SET value_seq = :seq, value_gateway = :gateway, value_ts = :ts, value_used = :used,
                      mould_index = :mould
               WHERE site = :site AND room = :room
                 AND (value_seq IS NULL OR value_seq < :seq OR value_gateway IS NOT :gateway)""",
            {
                "site": row["site"],
                "room": body.room,
                "gateway": row["gateway"],
                "seq": row["seq"],
                "ts": row["ts"],
                "used": json.dumps(body.used),
                "mould": body.mould_index,
            },
        )

    def _known_room(self, site: str, room: str, gateway: str) -> None:
        self._conn.execute("INSERT OR IGNORE INTO rooms (site, room, gateway) VALUES (?, ?, ?)", (site, room, gateway))

    def _switch(self, row: dict[str, Any], room: str, device: str, kind: str, active: bool, type_: str | None) -> None:
        """A relay or door reported on or off, open or shut, unless a newer message already said otherwise."""
        key = {"site": row["site"], "room": room, "device": device}
        self._conn.execute(
            "INSERT OR IGNORE INTO devices (site, room, device, kind) VALUES (:site, :room, :device, :kind)",
            {**key, "kind": kind},
        )
        self._conn.execute(
            """UPDATE devices SET changed = CASE WHEN active IS :active THEN changed ELSE :ts END,
                      active = :active, gateway = :gateway, seq = :seq, type = coalesce(:type, type)
               WHERE site = :site AND room = :room AND device = :device
                 AND (seq IS NULL OR gateway IS NOT :gateway OR seq < :seq)""",
            {**key, "active": active, "ts": row["ts"], "gateway": row["gateway"], "seq": row["seq"], "type": type_},
        )

    def _lock(self, row: dict[str, Any], room: str, door: str, locked: bool) -> None:
        """A door's strike reported locked or unlocked, unless a newer report already said otherwise."""
        key = {"site": row["site"], "room": room, "device": door}
        self._conn.execute(
            "INSERT OR IGNORE INTO devices (site, room, device, kind) VALUES (:site, :room, :device, 'door')", key
        )
        self._conn.execute(
            """UPDATE devices SET locked_changed = CASE WHEN locked IS :locked THEN locked_changed ELSE :ts END,
                      locked = :locked, locked_seq = :seq
               WHERE site = :site AND room = :room AND device = :device
                 AND (locked_seq IS NULL OR gateway IS NOT :gateway OR locked_seq < :seq)""",
            {**key, "locked": locked, "ts": row["ts"], "gateway": row["gateway"], "seq": row["seq"]},
        )

    def _status(self, message: protocol.Message, at: str) -> IngestResult:
        """Online/offline with its session; anything from an older session than the last one seen is stale.

        The broker may deliver an old connection's Last Will after the gateway has come back (a half-open
        connection is noticed late); believing it would show a live gateway as offline.
        """
        body = message.payload
        assert isinstance(body, protocol.Status)
        where = (message.site, message.gateway)
        state, session = self._conn.execute(
            "SELECT state, session FROM gateways WHERE site = ? AND gateway = ?", where
        ).fetchone()
        if session is not None and body.session < session:
            detail = f"{message.gateway}: {body.state} of session {body.session} after session {session}"
            log.info("ignored stale status: %s", detail)
            return IngestResult("ignored", "stale_status", detail, "status", message.gateway)
        changed = state != body.state or session != body.session
        self._conn.execute(
            """UPDATE gateways SET state = ?, session = ?, since = CASE WHEN ? THEN ? ELSE since END, last_seen = ?
               WHERE site = ? AND gateway = ?""",
            (body.state, body.session, changed, at, at, *where),
        )
        if changed:
            log.info("%s is %s (session %d)", message.gateway, body.state, body.session)
            alerts.on_status(self._conn, site=message.site, gateway=message.gateway, state=body.state, at=at)
        return IngestResult("accepted", kind="status", gateway=message.gateway)

    def _refuse(self, topic: str, payload: bytes, reason: str, message: str, at: str) -> IngestResult:
        shown_topic = shown_safely(topic, 200)
        detail = shown_safely(message, 500)
        self._log_refusal(reason, detail)
        try:
            with self._writing():
                self._count("refused", reason, at)
                self.db["rejects"].insert(
                    {
                        "received": at,
                        "topic": shown_topic,
                        "reason": reason,
                        "message": detail,
                        "size": len(payload),
                        "preview": shown_safely(payload, PREVIEW_BYTES),
                    }
                )
                self._conn.execute("DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?", (KEEP_REJECTS,))
        except sqlite3.OperationalError as exc:
            raise StorageError(f"{self.path}: cannot count a refused message: {exc}") from exc
        return IngestResult("refused", reason, detail)

    def _log_refusal(self, reason: str, detail: str) -> None:
        last, quiet = self._log_quiet.get(reason, (float("-inf"), 0))
        now = time.monotonic()
        if now - last < LOG_EVERY_S:
            self._log_quiet[reason] = (last, quiet + 1)
            return
        more = f" ({quiet} more {reason} not logged)" if quiet else ""
        log.warning("refused (%s): %s%s", reason, detail, more)
        self._log_quiet[reason] = (now, 0)

    def _count(self, outcome: str, reason: str, at: str) -> None:
        self._conn.execute(
            """INSERT INTO ingest_counts (outcome, reason, count, last_received) VALUES (?, ?, 1, ?)
               ON CONFLICT (outcome, reason) DO UPDATE SET count = count + 1, last_received = excluded.last_received""",
            (outcome, reason, at),
        )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so a second writer waits here, not halfway through."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    # -- what the pages show ----------------------------------------------------------------------

    def rooms(self, now: datetime) -> list[dict[str, Any]]:
        """Every configured or reported room: its latest climate, how old it is, its devices and gateway."""
        return readout.rooms(self.db, now, self.stale_after_s)

    def gateways(self, now: datetime) -> list[dict[str, Any]]:
        """Every configured or reported gateway: online or not since when, seq, counters, open gaps."""
        return readout.gateways(self.db, now)

    def ingest_stats(self) -> dict[str, Any]:
        """How many messages were accepted, repeated, ignored, and refused per reason."""
        return readout.ingest_stats(self.db)

    def recent_rejects(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent refused messages, newest first, as they may be shown."""
        return readout.recent_rejects(self.db, limit)
