"""Run the dashboard: the MQTT ingest in its thread and the web app under waitress, until SIGTERM or Ctrl-C.

waitress is a production WSGI server (threads, no debugger, no reloader), unlike Flask's own. The
ingest and the web server share nothing but the database file: the ingest writes it through its own
connection, each web request reads it through another.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

from waitress import create_server

from dashboard.app import create_app
from dashboard.audit_anchor import Anchoring, anchors_file
from dashboard.ingest import Ingest
from hardware.config import SiteConfig

log = logging.getLogger(__name__)


class _Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGINT to leave waitress's loop."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve(
    site: SiteConfig,
    *,
    host: str,
    port: int,
    broker_host: str,
    broker_port: int,
    password: str,
    threads: int = 16,
) -> None:
    """Serve the dashboard of `site` on host:port, fed from the broker at broker_host:broker_port.

    `password` is the broker password of the "dashboard" account. Blocks until SIGTERM or SIGINT, then
    stops the web server and the ingest cleanly. Must run in the main thread (it handles signals).
    """
    database = site.dashboard_database
    ingest = Ingest(site, database, host=broker_host, port=broker_port, username="dashboard", password=password)
    app = create_app(site, database=database, publish=ingest.publish)  # commands go out on its connection
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="storeroom-dashboard")
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    anchoring = Anchoring(database, anchors_file(site))
    try:
        anchoring.start()
        ingest.start()
        if not ingest.wait_ready(10):  # pages still help while the broker is away; the ingest keeps trying
            log.warning("not yet subscribed at %s:%s; serving pages meanwhile", broker_host, broker_port)
        else:  # the gateways get the loans in force, whatever the broker kept (dashboard/loans.py)
            _send_loans(site, database, ingest)
        log.info("database %s", database)
        log.info("listening on http://%s:%s/ (broker %s:%s)", _url_host(host), port, broker_host, broker_port)
        server.run()
    except _Stop as stop:
        log.info("%s: stopping", stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.task_dispatcher.shutdown()  # let requests in progress finish (waitress waits a few seconds)
        server.close()
        ingest.stop()
        anchoring.stop()
        log.info("stopped")


def _send_loans(site: SiteConfig, database, ingest: Ingest) -> None:
    from dashboard import loans
    from dashboard.users import connect
    from gateway.protocol import utc_now

    conn = connect(database)
    try:
        loans.publish_document(conn, site, ingest.publish, utc_now())
    finally:
        conn.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
