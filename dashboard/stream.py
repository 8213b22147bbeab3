"""Live updates for the overview: a server-sent event stream of snapshots (GET /api/stream).

A snapshot (rooms, gateways, and the ingest counters for roles that may see them) goes out when the
database changed (SQLite's `data_version`) and at least every SNAPSHOT_EVERY_S, so ages keep moving.
A stream holds one of the server's threads: it ends after STREAM_SECONDS (the browser reconnects at
once), a page that went away is noticed within CHECK_EVERY_S (a comment line is written every second),
and at most MAX_STREAMS run together; past that the answer is 503 and the page polls instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, stream_with_context

from dashboard import alerts
from dashboard.access import allowed
from dashboard.schema import iso
from dashboard.store import Store
from gateway.protocol import utc_now

bp = Blueprint("stream", __name__, url_prefix="/api")
SNAPSHOT_EVERY_S = 5.0
CHECK_EVERY_S = 1.0
STREAM_SECONDS = 120.0
MAX_STREAMS = 6
"""Of the server's 16 threads (serve.py): the rest stay free for pages and the API."""
_open = threading.BoundedSemaphore(MAX_STREAMS)


def _snapshot(store: Store, with_ingest: bool) -> str:
    now = utc_now()
    rooms = alerts.by_trouble(store.rooms(now), alerts.active(store.db.conn))
    body = {
        "rooms": {"now": iso(now), "rooms": rooms},
        "gateways": {"now": iso(now), "gateways": store.gateways(now)},
        "ingest": {**store.ingest_stats(), "recent_rejects": store.recent_rejects()} if with_ingest else None,
    }
    return f"event: snapshot\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"


@bp.get("/stream")
def stream() -> Response:
    if not _open.acquire(blocking=False):
        abort(503, description="too many live streams open; poll /api/rooms instead")
    database, stale_after = current_app.config["DATABASE"], current_app.config["STALE_AFTER_S"]
    with_ingest = allowed("api.ingest")

    def events() -> Iterator[str]:
        store = Store(database, readonly=True, stale_after_s=stale_after)
        try:
            yield "retry: 2000\n\n"
            started = last_sent = time.monotonic()
            version = None
            while time.monotonic() - started < STREAM_SECONDS:
                changed = store.db.execute("PRAGMA data_version").fetchone()[0]
                if changed != version or time.monotonic() - last_sent >= SNAPSHOT_EVERY_S:
                    version, last_sent = changed, time.monotonic()
                    yield _snapshot(store, with_ingest)
                else:
                    # A comment line: the browser ignores it, but writing it finds a closed connection
                    # within a second, so a page that went away frees its server thread at once.
                    yield ":\n\n"
                time.sleep(CHECK_EVERY_S)
        finally:
            store.close()
            _open.release()

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
