"""The gateway's durable outbox: every message is written here before it is sent.

paho-mqtt keeps unacknowledged QoS 1 messages in memory only, so a power cut or a SIGKILL would lose
them; this table keeps them until the broker's PUBACK. The row's key is the message's `seq`, rising per
gateway and never reused: AUTOINCREMENT keeps the high-water mark in `sqlite_sequence` even when every
row has been delivered and deleted, so `seq` survives restarts without a counter of our own.

One SQLite file in WAL mode; `synchronous=FULL` so a message acknowledged by `put` survives a power cut,
not only a crash of the process (bench/outbox.py measures what that costs on the device).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils


@contextmanager
def immediate(db: sqlite3.Connection | sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error, on a connection in autocommit mode.

    IMMEDIATE takes the write lock at once, so a reader-turned-writer never meets SQLITE_BUSY halfway.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Pending:
    """One message waiting for its PUBACK."""

    seq: int
    topic: str
    payload: bytes
    retain: bool
    created: float

    def as_historical(self) -> bytes:
        """The payload marked as sent from the backlog (protocol field `historical`)."""
        document = json.loads(self.payload)
        document["historical"] = True
        return json.dumps(document, separators=(",", ":")).encode()


class Outbox:
    """A durable FIFO of MQTT messages, numbered by `seq`. Safe to share between threads."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        # Several gateway threads write (sensor loops, door callbacks, command handling): one connection,
        # serialised by our lock, is simpler and faster on a Pi than a connection per thread.
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db = sqlite_utils.Database(conn)
        self._db.enable_wal()
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, topic: str, build: Callable[[int], bytes], *, retain: bool = False) -> int:
        """Store one message; `build(seq)` makes its payload once its seq is known. Returns the seq."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            seq = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO outbox (seq, topic, payload, retain, created) VALUES (?, ?, ?, ?, ?)",
                (seq, topic, build(seq), int(retain), time.time()),
            )
        return seq

    def after(self, seq: int, limit: int) -> list[Pending]:
        """The next `limit` messages with a seq above `seq`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, retain, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [Pending(s, t, bytes(p), bool(r), c) for s, t, p, r, c in rows]

    def delivered(self, seqs: Iterable[int]) -> None:
        """The broker acknowledged these: forget them."""
        params = [(s,) for s in seqs]
        if params:
            with self._lock, self._transaction():
                self._db.conn.executemany("DELETE FROM outbox WHERE seq = ?", params)

    def pending(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def last_seq(self) -> int:
        """The highest seq ever given out (0 before the first message)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return row[0] if row else 0

    def next_session(self) -> int:
        """Raise and return the connection session counter (the `session` of status messages)."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('session', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1"
            )
            return self._db.execute("SELECT value FROM meta WHERE key = 'session'").fetchone()[0]

    def _transaction(self) -> AbstractContextManager[None]:
        return immediate(self._db)
