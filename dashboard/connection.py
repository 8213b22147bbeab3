"""One read-only connection to the dashboard database per request, closed when the request ends.

Web requests run on the server's worker threads; SQLite connections belong to the thread that opened
them, so none is shared: each request opens its own (cheap for a local file) and only reads. The
ingest, the only writer, has its own connection in its own thread.
"""

from __future__ import annotations

import sqlite3

from flask import Flask, current_app, g

from dashboard.store import Store
from dashboard.users import connect


def store() -> Store:
    """The current request's view of the database, opened on first use."""
    if "store" not in g:
        g.store = Store(
            current_app.config["DATABASE"], readonly=True, stale_after_s=current_app.config["STALE_AFTER_S"]
        )
        # One read transaction per request: a page is one snapshot (WAL), never half before and half after
        # an ingest commit (a command shown applied beside the band it replaced).
        g.store.db.execute("BEGIN")
    return g.store


def people() -> sqlite3.Connection:
    """The current request's writable connection for users, logins and the audit trail.

    The climate data is written by the ingest alone; what people do is written by the requests that do it.
    """
    if "people" not in g:
        g.people = connect(current_app.config["DATABASE"])
    return g.people


def _close(_error: BaseException | None = None) -> None:
    opened = g.pop("store", None)
    if opened is not None:
        opened.close()
    conn = g.pop("people", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
