"""Dashboard users: names, roles, password hashes, login throttling and API tokens.

Passwords are hashed with werkzeug's scrypt (memory-hard; werkzeug ships with Flask). Guessing is
throttled per user name: after MAX_FAILURES failed logins within THROTTLE_WINDOW, that name is refused
for the rest of the window, whatever the password, and every attempt is audited by the caller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.schema import iso, migrate

ROLES = ("keeper", "facilities", "archivist", "auditor", "admin")
"""Storeroom keeper (库管员), facilities staff, archivist (档案员), auditor, administrator."""
LANGUAGES = {"zh_CN": "中文", "en": "English"}
"""The languages the pages come in, each named in itself (for the switch in the header)."""
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
# Checked against when a name is unknown, so a login takes as long for a wrong name as for a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


class UserError(ValueError):
    """A user cannot be added or changed; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool


def connect(path: Path, *, migrate_schema: bool = False) -> sqlite3.Connection:
    """A writable connection in autocommit mode for users and the audit trail.

    Web requests skip the migration (the app migrated at start-up); the command line migrates, since it
    may be the first to open a new database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    if migrate_schema:
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        migrate(db)
    return conn


class Users:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME_PATTERN.fullmatch(name):
            raise UserError(f"user name {name!r}: 2-32 characters, lower case letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        _check_password(password)
        now = iso(datetime.now(UTC))
        try:
            self.conn.execute(
                "INSERT INTO users (name, role, password_hash, created, changed) VALUES (?, ?, ?, ?, ?)",
                (name, role, generate_password_hash(password), now, now),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} exists already") from None
        return self.get(name)

    def get(self, name: str) -> User:
        row = self.conn.execute("SELECT id, name, role, disabled FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UserError(f"no user {name!r}")
        return User(row[0], row[1], row[2], bool(row[3]))

    def by_id(self, user_id: int) -> User | None:
        row = self.conn.execute("SELECT id, name, role, disabled FROM users WHERE id = ?", (user_id,)).fetchone()
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def all(self) -> list[User]:
        rows = self.conn.execute("SELECT id, name, role, disabled FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        self.get(name)
        self.conn.execute(
            "UPDATE users SET password_hash = ?, changed = ? WHERE name = ?",
            (generate_password_hash(password), iso(datetime.now(UTC)), name),
        )

    def language(self, user_id: int) -> str | None:
        row = self.conn.execute("SELECT language FROM users WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row else None

    def set_language(self, user_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise UserError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
        self.conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user_id))

    def set_disabled(self, name: str, disabled: bool) -> None:
        self.get(name)
        self.conn.execute(
            "UPDATE users SET disabled = ?, changed = ? WHERE name = ?", (int(disabled), iso(datetime.now(UTC)), name)
        )
        if disabled:
            self.conn.execute("DELETE FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = ?)", (name,))

    # -- logging in ---------------------------------------------------------------------------

    def throttled(self, name: str, now: datetime | None = None) -> bool:
        since = iso((now or datetime.now(UTC)) - THROTTLE_WINDOW)
        count = self.conn.execute(
            "SELECT count(*) FROM login_failures WHERE name = ? AND at > ?", (name, since)
        ).fetchone()[0]
        return count >= MAX_FAILURES

    def authenticate(self, name: str, password: str, remote: str) -> User | None:
        """The user if the password is right and the account usable; None otherwise (and the failure noted)."""
        row = self.conn.execute(
            "SELECT id, name, role, disabled, password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        good = check_password_hash(row[4] if row else _DUMMY_HASH, password)
        if row and good and not row[3]:
            self.conn.execute("DELETE FROM login_failures WHERE name = ?", (name,))
            return User(row[0], row[1], row[2], False)
        self.conn.execute(
            "INSERT INTO login_failures (name, at, remote) VALUES (?, ?, ?)",
            (name[:64], iso(datetime.now(UTC)), remote),
        )
        return None

    # -- API tokens ---------------------------------------------------------------------------

    def new_token(self, name: str) -> str:
        """A new read-only API token for `name`; shown once, stored only as its hash."""
        user = self.get(name)
        token = "sr_" + secrets.token_urlsafe(32)
        self.conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, scope, created) VALUES (?, ?, 'read', ?)",
            (_token_hash(token), user.id, iso(datetime.now(UTC))),
        )
        return token

    def by_token(self, token: str) -> User | None:
        row = self.conn.execute(
            "SELECT u.id, u.name, u.role, u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = ?",
            (_token_hash(token),),
        ).fetchone()
        if row is None or row[3]:
            return None
        return User(row[0], row[1], row[2], False)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")


def ensure_demo_users(conn: sqlite3.Connection) -> dict[str, str]:
    """One user per role, named after it, for the demo. Returns the passwords of the users made now."""
    made = {}
    users = Users(conn)
    existing = {user.name for user in users.all()}
    for role in ROLES:
        if role not in existing:
            password = secrets.token_urlsafe(12)
            users.add(role, role, password)
            made[role] = password
    return made
