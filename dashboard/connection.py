"""One read-only connection to the dashboard database per request, closed when the request ends.

Web requests run on the server's worker threads; SQLite connections belong to the thread that opened
them, so none is shared: each request opens its own (cheap for a local file) and only reads. The
ingest, the only writer, has its own connection in its own thread.
"""

from __future__ import annotations

from flask import Flask, current_app, g

from dashboard.store import Store


def store() -> Store:
    """The current request's view of the database, opened on first use."""
    if "store" not in g:
        g.store = Store(
            current_app.config["DATABASE"], readonly=True, stale_after_s=current_app.config["STALE_AFTER_S"]
        )
    return g.store


def _close(_error: BaseException | None = None) -> None:
    opened = g.pop("store", None)
    if opened is not None:
        opened.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
