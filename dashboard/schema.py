"""The dashboard database's schema, in one place, as numbered migrations.

Each migration is a list of SQL statements applied once, in order, inside one write transaction, and
recorded in the `migrations` table; a database is never changed by anything but a new migration at the
end of `MIGRATIONS`. Two processes opening a new file at once (the web server and the ingest) cannot
both apply a migration: the first takes the write lock, the second then finds it recorded.

Timestamps are text, UTC, ISO 8601 with microseconds and a `Z` (`2026-11-22T08:00:05.250000Z`): fixed
width, so they sort as they compare, and they read the same in `sqlite3` as on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

Migration = tuple[int, str, list[str]]

MIGRATIONS: list[Migration] = [
    (
        1,
        "rooms, gateways, messages, readings, events, gaps, ingest counts",
        [
            # What the dashboard knows of each gateway: from the config (`configured`) and from the wire.
            # `state` is the last accepted `status` (online/offline) or 'unknown' before any.
            """CREATE TABLE gateways (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                configured INTEGER NOT NULL DEFAULT 0,
                position INTEGER,
                software TEXT,
                state TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'online', 'offline')),
                session INTEGER,
                since TEXT,
                last_seen TEXT,
                last_seq INTEGER,
                messages INTEGER NOT NULL DEFAULT 0,
                duplicates INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (site, gateway)
            )""",
            """CREATE TABLE rooms (
                site TEXT NOT NULL,
                room TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                gateway TEXT NOT NULL,
                configured INTEGER NOT NULL DEFAULT 0,
                position INTEGER,
                PRIMARY KEY (site, room)
            )""",
            # A climate sensor's latest reading (`seq`, `state`, ...) and its latest reading with a value
            # (`value_*`): a failing sensor keeps showing its last good value, which grows old and stale.
            """CREATE TABLE sensors (
                site TEXT NOT NULL,
                room TEXT NOT NULL,
                sensor TEXT NOT NULL,
                type TEXT,
                configured INTEGER NOT NULL DEFAULT 0,
                gateway TEXT,
                seq INTEGER,
                state TEXT,
                error TEXT,
                ts TEXT,
                value_seq INTEGER,
                temperature_c REAL,
                humidity_rh REAL,
                value_ts TEXT,
                value_synced INTEGER,
                value_received TEXT,
                PRIMARY KEY (site, room, sensor)
            )""",
            # Two-state devices: relays (`active` = on) and doors (`active` = open); NULL until reported.
            # `seq` is the message that set `active`, so a late, older message never undoes a newer one.
            """CREATE TABLE devices (
                site TEXT NOT NULL,
                room TEXT NOT NULL,
                device TEXT NOT NULL,
                kind TEXT NOT NULL,
                type TEXT,
                configured INTEGER NOT NULL DEFAULT 0,
                active INTEGER,
                gateway TEXT,
                seq INTEGER,
                changed TEXT,
                PRIMARY KEY (site, room, device)
            )""",
            # Every sequenced message accepted, once: the ledger that makes ingest idempotent.
            """CREATE TABLE messages (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                kind TEXT NOT NULL,
                topic TEXT NOT NULL,
                ts TEXT NOT NULL,
                synced INTEGER NOT NULL,
                historical INTEGER NOT NULL,
                received TEXT NOT NULL,
                PRIMARY KEY (site, gateway, seq)
            )""",
            """CREATE TABLE readings (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                room TEXT NOT NULL,
                sensor TEXT NOT NULL,
                ts TEXT NOT NULL,
                synced INTEGER NOT NULL,
                historical INTEGER NOT NULL,
                received TEXT NOT NULL,
                state TEXT NOT NULL,
                temperature_c REAL,
                humidity_rh REAL,
                error TEXT,
                PRIMARY KEY (site, gateway, seq)
            )""",
            "CREATE INDEX readings_by_room ON readings (site, room, ts)",
            """CREATE TABLE events (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                severity TEXT NOT NULL,
                room TEXT,
                device TEXT,
                message TEXT NOT NULL,
                data TEXT NOT NULL,
                ts TEXT NOT NULL,
                synced INTEGER NOT NULL,
                historical INTEGER NOT NULL,
                received TEXT NOT NULL,
                PRIMARY KEY (site, gateway, seq)
            )""",
            "CREATE INDEX events_by_room ON events (site, room, ts)",
            """CREATE TABLE acks (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                command TEXT NOT NULL,
                command_id TEXT NOT NULL,
                ok INTEGER NOT NULL,
                detail TEXT NOT NULL,
                ts TEXT NOT NULL,
                received TEXT NOT NULL,
                PRIMARY KEY (site, gateway, seq)
            )""",
            # Runs of seq never received, first..last inclusive; shrunk, split or deleted as they arrive.
            """CREATE TABLE gaps (
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                first INTEGER NOT NULL,
                last INTEGER NOT NULL CHECK (last >= first),
                opened TEXT NOT NULL,
                PRIMARY KEY (site, gateway, first)
            )""",
            # How each received message ended: outcome accepted/duplicate/conflict/ignored/refused, with
            # the reason for the last three ('' otherwise).
            """CREATE TABLE ingest_counts (
                outcome TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                count INTEGER NOT NULL DEFAULT 0,
                last_received TEXT,
                PRIMARY KEY (outcome, reason)
            )""",
            # The most recent refused messages, for people to see what was wrong; trimmed on insert.
            """CREATE TABLE rejects (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received TEXT NOT NULL,
                topic TEXT NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                size INTEGER NOT NULL,
                preview TEXT NOT NULL
            )""",
        ],
    ),
    (
        2,
        "users, login failures, API tokens, the audit trail",
        [
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0,
                created TEXT NOT NULL,
                changed TEXT NOT NULL
            )""",
            # Failed logins per user name, to throttle guessing; cleared by a successful login.
            """CREATE TABLE login_failures (
                name TEXT NOT NULL,
                at TEXT NOT NULL,
                remote TEXT NOT NULL
            )""",
            "CREATE INDEX login_failures_by_name ON login_failures (name, at)",
            # API tokens are stored as SHA-256 only: a copy of the database does not give them away.
            """CREATE TABLE api_tokens (
                token_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id),
                scope TEXT NOT NULL CHECK (scope IN ('read')),
                created TEXT NOT NULL
            )""",
            # Append-only; each row holds the SHA-256 of its content and of the row before (see audit.py).
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ts TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                object TEXT NOT NULL,
                remote TEXT NOT NULL,
                detail TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )""",
        ],
    ),
    (
        3,
        "alerts",
        [
            # One row per alert: raised by a gateway's event or by the ingest (gateway offline, seq gap),
            # ended when it clears (kept as history), acknowledged by a person with a comment.
            """CREATE TABLE alerts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                room TEXT,
                key TEXT NOT NULL,
                kind TEXT NOT NULL,
                severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'alarm')),
                message TEXT NOT NULL,
                started TEXT NOT NULL,
                ended TEXT,
                acked_by TEXT,
                acked_at TEXT,
                comment TEXT NOT NULL DEFAULT ''
            )""",
            # At most one active alert per key: a repeated error does not page twice.
            "CREATE UNIQUE INDEX alerts_active_key ON alerts (site, key) WHERE ended IS NULL",
            "CREATE INDEX alerts_by_start ON alerts (started)",
        ],
    ),
    (
        4,
        "commands to gateways, rooms' humidity band as applied",
        [
            # A command the dashboard sent: pending until the gateway's ack says applied or refused.
            """CREATE TABLE commands (
                id TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                gateway TEXT NOT NULL,
                name TEXT NOT NULL,
                args TEXT NOT NULL,
                by TEXT NOT NULL,
                sent TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'refused')),
                detail TEXT NOT NULL DEFAULT '',
                answered TEXT
            )""",
            "CREATE INDEX commands_by_sent ON commands (sent)",
            "ALTER TABLE rooms ADD COLUMN humidity_low REAL",
            "ALTER TABLE rooms ADD COLUMN humidity_high REAL",
        ],
    ),
    (5, "each user's language", ["ALTER TABLE users ADD COLUMN language TEXT"]),
    (
        6,
        "age of a reading's values (degraded and stale readings repeat older ones)",
        [
            "ALTER TABLE readings ADD COLUMN age_s REAL NOT NULL DEFAULT 0",
        ],
    ),
    (
        7,
        "a room's own value as its gateway combines it: the sensors used, the mould index",
        [
            "ALTER TABLE rooms ADD COLUMN value_seq INTEGER",
            "ALTER TABLE rooms ADD COLUMN value_gateway TEXT",
            "ALTER TABLE rooms ADD COLUMN value_ts TEXT",
            "ALTER TABLE rooms ADD COLUMN value_used TEXT",
            "ALTER TABLE rooms ADD COLUMN mould_index REAL",
        ],
    ),
    (
        8,
        "the dossier register: one row per dossier code (the code on its tag), with its catalogue fields",
        [
            """CREATE TABLE dossiers (
                code TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                unit TEXT NOT NULL,
                fields TEXT NOT NULL DEFAULT '{}',
                imported TEXT NOT NULL,
                source TEXT NOT NULL
            )""",
            "CREATE INDEX dossiers_by_unit ON dossiers (unit)",
        ],
    ),
    # -- dossier pages from the copy stand (migrations 10-19) ------------------------------------------
    (
        10,
        "dossier pages from the copy stand (the `page` event) and each dossier's PDF and manifest",
        [
            # The current version of each page: a retake replaces the row (the events table keeps every
            # version). `files` and `checks` are JSON: {kind: {sha256, bytes, name}}, {name: {ok, value, limit,
            # reason}}. The files themselves are on disk by SHA-256 (dashboard/page_files.py).
            """CREATE TABLE pages (
                site TEXT NOT NULL,
                dossier TEXT NOT NULL,
                page INTEGER NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                ts TEXT NOT NULL,
                received TEXT NOT NULL,
                captured TEXT NOT NULL,
                device TEXT NOT NULL,
                dpi REAL NOT NULL,
                qc_ok INTEGER NOT NULL,
                checks TEXT NOT NULL,
                files TEXT NOT NULL,
                retakes INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (site, dossier, page)
            )""",
            """CREATE TABLE dossier_scans (
                site TEXT NOT NULL,
                dossier TEXT NOT NULL,
                gateway TEXT NOT NULL,
                seq INTEGER NOT NULL,
                ts TEXT NOT NULL,
                received TEXT NOT NULL,
                pages INTEGER NOT NULL,
                files TEXT NOT NULL,
                PRIMARY KEY (site, dossier)
            )""",
        ],
    ),
    # -- Dossier tracking (issue 8): migrations 20-29 ----------------------------------------------
    (
        20,
        "dossier tracking: home locations, search keys, users linked to person records, tag reads by code",
        [
            # Where a dossier lives (a shelf or a box on it; see dashboard/locations.py), and its room and
            # shelf for the stocktake's "expected here" and the search's filters. NULL: not placed.
            "ALTER TABLE dossiers ADD COLUMN home TEXT",
            "ALTER TABLE dossiers ADD COLUMN home_room TEXT",
            "ALTER TABLE dossiers ADD COLUMN home_shelf TEXT",
            "CREATE INDEX dossiers_by_home_shelf ON dossiers (home_shelf)",
            "CREATE INDEX dossiers_by_home_room ON dossiers (home_room)",
            # Every normalised value a dossier is found by (code, name, its pinyin in full and as initials,
            # unit, catalogue fields), clustered by key: a prefix search is one range of one B-tree.
            """CREATE TABLE dossier_keys (
                key TEXT NOT NULL,
                code TEXT NOT NULL,
                field TEXT NOT NULL,
                PRIMARY KEY (key, code, field)
            ) WITHOUT ROWID""",
            # The same keys reversed, for code, name and pinyin only: typos early in a word are found from
            # its end (dashboard/dossier_search.py).
            """CREATE TABLE dossier_rkeys (
                rkey TEXT NOT NULL,
                code TEXT NOT NULL,
                PRIMARY KEY (rkey, code)
            ) WITHOUT ROWID""",
            # Users linked to person records of the register (their own dossier, their relatives'):
            # nobody sees, requests or approves those.
            """CREATE TABLE person_links (
                user_id INTEGER NOT NULL REFERENCES users(id),
                code TEXT NOT NULL,
                relation TEXT NOT NULL,
                linked TEXT NOT NULL,
                linked_by TEXT NOT NULL,
                PRIMARY KEY (user_id, code)
            )""",
            # A dossier's tag reads, newest first, without reading every event; and tag reads in time order.
            "CREATE INDEX events_tag_read_by_code ON events (json_extract(data, '$.code'), ts) WHERE kind = 'tag_read'",
            "CREATE INDEX events_by_kind ON events (kind, ts)",
        ],
    ),
    (
        21,
        "stocktakes, their findings, shelves' last check; dossiers by unit and by room in code order",
        [
            # scope: a location code (the site, a room, a row or a shelf). Open while `closed` is NULL.
            """CREATE TABLE stocktakes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                scope TEXT NOT NULL,
                started TEXT NOT NULL,
                started_by TEXT NOT NULL,
                closed TEXT,
                closed_by TEXT,
                note TEXT NOT NULL DEFAULT ''
            )""",
            # One row per dossier (or unknown tag, by `uid:<UID>`) a closed stocktake found something about.
            """CREATE TABLE stocktake_findings (
                stocktake INTEGER NOT NULL REFERENCES stocktakes(id),
                code TEXT NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('found', 'missing', 'misplaced', 'unknown', 'on_loan')),
                shelf TEXT,
                seen_at TEXT,
                ts TEXT,
                PRIMARY KEY (stocktake, code)
            )""",
            "CREATE INDEX stocktake_findings_by_code ON stocktake_findings (code, stocktake)",
            # Dossiers of a unit (and room) or of a room in code order, for the search's filters on a large
            # register; the first replaces the index on unit alone.
            "CREATE INDEX dossiers_by_unit_room_code ON dossiers (unit, home_room, code)",
            "CREATE INDEX dossiers_by_room_code ON dossiers (home_room, code)",
            "DROP INDEX dossiers_by_unit",
            # When each shelf was last fully checked: every shelf a closed stocktake visited.
            """CREATE TABLE shelf_checks (
                shelf TEXT PRIMARY KEY,
                checked TEXT NOT NULL,
                stocktake INTEGER NOT NULL
            )""",
        ],
    ),
    (
        22,
        "loans: requests with their dossiers, approvals, returns confirmed with a page count, loan documents sent",
        [
            # state: pending -> approved | refused | cancelled; approved -> closed once every dossier is back.
            """CREATE TABLE loan_requests (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                requester_id INTEGER NOT NULL REFERENCES users(id),
                requester TEXT NOT NULL,
                purpose TEXT NOT NULL,
                days INTEGER NOT NULL,
                requested TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'approved', 'refused', 'cancelled', 'closed')),
                decided_by TEXT,
                decided_at TEXT,
                due TEXT,
                note TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX loan_requests_by_state ON loan_requests (state, id)",
            """CREATE TABLE loan_items (
                request INTEGER NOT NULL REFERENCES loan_requests(id),
                code TEXT NOT NULL,
                PRIMARY KEY (request, code)
            )""",
            "CREATE INDEX loan_items_by_code ON loan_items (code)",
            # Tag reads by when the dashboard received them: a stocktake's window, whatever the gateways' clocks.
            "CREATE INDEX events_by_kind_received ON events (kind, received)",
            # A return confirmed at the desk with the pages counted (expected: from the digitization manifest).
            """CREATE TABLE loan_returns (
                request INTEGER NOT NULL REFERENCES loan_requests(id),
                code TEXT NOT NULL,
                pages INTEGER NOT NULL,
                expected_pages INTEGER,
                confirmed_by TEXT NOT NULL,
                confirmed_at TEXT NOT NULL,
                PRIMARY KEY (request, code)
            )""",
            # Every loan document sent to the gateways (cmd/loans): its version is its id.
            """CREATE TABLE loan_documents (
                version INTEGER PRIMARY KEY AUTOINCREMENT,
                issued TEXT NOT NULL,
                loans INTEGER NOT NULL,
                sent INTEGER NOT NULL
            )""",
        ],
    ),
    (
        23,
        "reversed search keys by length: a misspelt word is looked for among the keys of about its length",
        ["CREATE INDEX dossier_rkeys_by_length ON dossier_rkeys (length(rkey), rkey)"],
    ),
    # -- door access (issue 7): numbers 30-39 ---------------------------------------------------------
    (
        30,
        "door access: badge holders, room rules, and every permission document published",
        [
            # `badges` and `grants` are JSON lists as in the permission document (gateway/protocol.py).
            """CREATE TABLE access_holders (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL CHECK (kind IN ('staff', 'visitor')),
                disabled INTEGER NOT NULL DEFAULT 0,
                badges TEXT NOT NULL DEFAULT '[]',
                grants TEXT NOT NULL DEFAULT '[]',
                updated TEXT NOT NULL,
                updated_by TEXT NOT NULL
            )""",
            """CREATE TABLE access_rooms (
                room TEXT PRIMARY KEY,
                two_person INTEGER NOT NULL DEFAULT 0,
                window_s REAL NOT NULL DEFAULT 30,
                anti_passback INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE access_documents (
                version INTEGER PRIMARY KEY,
                issued TEXT NOT NULL,
                issued_by TEXT NOT NULL,
                document TEXT NOT NULL
            )""",
        ],
    ),
    (
        31,
        "a badge door's lock state: locked or not, from the birth's doors and `strike` events",
        [
            # 1 locked, 0 unlocked, NULL: a door without a strike, or none reported yet. `locked_seq` orders the
            # lock's reports apart from the contact's (`seq`), so a late one of either changes nothing.
            "ALTER TABLE devices ADD COLUMN locked INTEGER",
            "ALTER TABLE devices ADD COLUMN locked_seq INTEGER",
            "ALTER TABLE devices ADD COLUMN locked_changed TEXT",
        ],
    ),
    # -- Dashboard platform (issue 3): migrations 40-49 ------------------------------------------------
    (
        40,
        "alerts keep their event's device and data, to be worded in the reader's language",
        [
            "ALTER TABLE alerts ADD COLUMN device TEXT",
            # The raising event's data as JSON (value, limit, ...); '{}' for alerts raised before this.
            "ALTER TABLE alerts ADD COLUMN data TEXT NOT NULL DEFAULT '{}'",
        ],
    ),
]


def iso(moment: datetime) -> str:
    """A timestamp as the database keeps it: UTC, microseconds, `Z`."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; the dashboard stores UTC only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Apply the migrations this database has not had yet; return their numbers."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
    )
    applied: list[int] = []
    # IMMEDIATE takes the write lock before reading what is applied, so two processes cannot both apply.
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in db.conn.execute("SELECT id FROM migrations")}
        for number, name, statements in MIGRATIONS:
            if number in done:
                continue
            for statement in statements:
                db.conn.execute(statement)
            db.conn.execute(
                "INSERT INTO migrations (id, name, applied) VALUES (?, ?, ?)",
                (number, name, iso(datetime.now(UTC))),
            )
            applied.append(number)
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    return applied


def version(db: sqlite_utils.Database) -> int:
    """The number of the last migration applied, 0 for a database without the schema."""
    if not db["migrations"].exists():
        return 0
    return db.execute("SELECT coalesce(max(id), 0) FROM migrations").fetchone()[0]


LATEST = MIGRATIONS[-1][0]
