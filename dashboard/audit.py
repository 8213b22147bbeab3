"""The audit trail: who did what to which object, when and from where, provably unedited.

Every row holds the SHA-256 of its own content and of the row before it (the first row chains to 64
zeros). Editing a row changes its hash; deleting or reordering rows breaks the chain at the next row;
`verify` walks the whole table and names the first row that does not hold. The table is only ever
appended to, by `record`, under SQLite's write lock so two writers cannot chain to the same row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard.schema import iso

GENESIS = "0" * 64


def _digest(row_id: int, ts: str, actor: str, action: str, obj: str, remote: str, detail: str, prev: str) -> str:
    content = json.dumps([row_id, ts, actor, action, obj, remote, detail, prev], ensure_ascii=False)
    return hashlib.sha256(content.encode()).hexdigest()


def record(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    obj: str = "",
    remote: str = "",
    detail: dict | None = None,
) -> int:
    """Append one row; returns its id. `conn` must be in autocommit mode (isolation_level=None)."""
    ts = iso(datetime.now(UTC))
    detail_text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        row_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        digest = _digest(row_id, ts, actor, action, obj, remote, detail_text, prev)
        conn.execute(
            "INSERT INTO audit (id, ts, actor, action, object, remote, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row_id, ts, actor, action, obj, remote, detail_text, prev, digest),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return row_id


@dataclass(frozen=True)
class Verdict:
    rows: int
    first_bad: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(conn: sqlite3.Connection) -> Verdict:
    """Check every row's hash and its link to the row before, in id order."""
    prev, expected_id, rows = GENESIS, 1, 0
    cursor = conn.execute(
        "SELECT id, ts, actor, action, object, remote, detail, prev_hash, hash FROM audit ORDER BY id"
    )
    for row_id, ts, actor, action, obj, remote, detail, prev_hash, digest in cursor:
        if row_id != expected_id:
            return Verdict(rows, row_id, f"row {row_id} follows row {expected_id - 1}: rows are missing")
        if prev_hash != prev:
            return Verdict(rows, row_id, f"row {row_id} does not chain to the row before it")
        if _digest(row_id, ts, actor, action, obj, remote, detail, prev_hash) != digest:
            return Verdict(rows, row_id, f"row {row_id} was altered: its content does not match its hash")
        prev, expected_id, rows = digest, row_id + 1, rows + 1
    return Verdict(rows)
