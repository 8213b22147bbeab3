"""Anchors of the audit trail's head, kept outside the database, so that cutting off its newest rows shows.

The hash chain (dashboard/audit.py) catches a row edited, deleted or moved, but not the newest rows cut off:
what is left still chains. So the head (the last row's id and hash) is written down from time to time
(every minute while the dashboard serves, and on `storeroom audit anchor`) in an append-only file in the
secrets folder, which the database's users cannot rewrite. `storeroom audit verify` then checks the table
against the latest anchor: the anchored row must still be there with the same hash.

One JSON line per anchor: {"id": ..., "hash": ..., "at": ...}; the file is only ever appended to.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dashboard.schema import iso
from hardware.config import SiteConfig
from hardware.secrets import ensure_folder

log = logging.getLogger(__name__)
ANCHOR_EVERY_S = 60.0
FILE_NAME = "audit-anchors.jsonl"


@dataclass(frozen=True)
class Anchor:
    id: int
    hash: str
    at: str


def anchors_file(site: SiteConfig) -> Path:
    return site.storage.secrets / FILE_NAME


def _head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    row = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def latest(path: Path) -> Anchor | None:
    """The newest well-formed anchor in the file; a damaged line is logged and skipped, never trusted."""
    if not path.exists():
        return None
    found = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
            anchor = Anchor(int(entry["id"]), str(entry["hash"]), str(entry["at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("%s line %d is not an anchor; skipped: %.80r", path, number, line)
            continue
        if len(anchor.hash) != 64 or anchor.id < 1:
            log.warning("%s line %d is not an anchor (id or hash); skipped", path, number)
            continue
        found = anchor if found is None or anchor.id >= found.id else found
    return found


def anchor(conn: sqlite3.Connection, path: Path) -> Anchor | None:
    """Write down the current head unless the latest anchor already names it; the head's anchor, or None
    while the trail is empty."""
    head = _head(conn)
    if head is None:
        return None
    last = latest(path)
    if last is not None and (last.id, last.hash) == head:
        return last
    written = Anchor(head[0], head[1], iso(datetime.now(UTC)))
    ensure_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(json.dumps({"id": written.id, "hash": written.hash, "at": written.at}) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return written


def check(conn: sqlite3.Connection, last: Anchor) -> str | None:
    """Why the table does not hold the anchored head, or None when it does."""
    row = conn.execute("SELECT hash FROM audit WHERE id = ?", (last.id,)).fetchone()
    if row is None:
        head = _head(conn)
        kept = head[0] if head else 0
        return f"rows after id {kept} are missing: the anchor of {last.at} names row {last.id}"
    if row[0] != last.hash:
        return f"row {last.id} is not the row anchored at {last.at}: the newest rows were cut off and replaced"
    return None


class Anchoring:
    """While the dashboard serves: anchor the head every `every_s` seconds, in a thread of its own."""

    def __init__(self, database: Path, path: Path, every_s: float = ANCHOR_EVERY_S) -> None:
        self.database, self.path, self.every_s = database, path, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.once()  # the head as the dashboard leaves it

    def once(self) -> None:
        try:
            conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
            try:
                anchor(conn, self.path)
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:  # a busy or missing database: next time
            log.warning("audit head not anchored: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.once()
