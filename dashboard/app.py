"""The dashboard web app: `create_app(site)` builds it, one blueprint per area of the site.

No module-level app and no global state: everything a request needs comes from the app's config, and
each request opens its own read-only connection to the database (`dashboard.connection`).

Example (the production server is `storeroom dashboard serve`; this is how tests and scripts build it):

    >>> from hardware.config import load
    >>> import tempfile, pathlib
    >>> site = load("hardware/configs/demo.toml")
    >>> storage = site.storage.model_copy(update={"dir": pathlib.Path(tempfile.mkdtemp())})
    >>> site = site.model_copy(update={"storage": storage})
    >>> app = create_app(site)
    >>> app.test_client().get("/api/rooms").status_code   # nothing without logging in
    401
    >>> app.test_client().get("/login").status_code
    200
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, Response, jsonify, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from dashboard import (
    access,
    admin,
    alert_views,
    api,
    audit_views,
    auth,
    connection,
    door_views,
    dossiers,
    event_text,
    formatting,
    loan_views,
    overview,
    page_files,
    page_views,
    relation_views,
    rooms,
    scans,
    statistics_views,
    stocktake_views,
    stream,
    translations,
    vendor,
)
from dashboard.commands import Publisher
from dashboard.store import Store
from hardware.config import SiteConfig

CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
"""Only our own scripts, styles and images: the page works on a site without internet, injected markup cannot run."""


def create_app(site: SiteConfig, *, database: Path | None = None, publish: Publisher | None = None) -> Flask:
    """The dashboard for `site`, reading `database` (default: the site's `dashboard_database`).

    The database is created and migrated here if it is new, and the site's configured rooms and
    gateways are recorded, so the first page already shows every room, even before the ingest runs.
    """
    app = Flask(__name__)
    app.config.update(
        SITE=site,
        DATABASE=Path(database or site.dashboard_database),
        STALE_AFTER_S=site.dashboard.stale_after_s,
        PUBLISH=publish,  # sends commands to gateways; None where no broker is connected (pages still work)
    )
    app.config.update(
        SECRET_KEY=_session_key(site),
        SESSION_IDLE_S=site.dashboard.session_idle_minutes * 60,
        SESSION_COOKIE_NAME="storeroom_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=site.dashboard.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which has its own idle timeout
    )
    app.json.sort_keys = False  # keep the API's fields in the order they are documented
    with Store(app.config["DATABASE"]) as store:
        store.sync_config(site)

    connection.init_app(app)
    translations.init_app(app)
    access.init_app(app)  # before CSRF: who may do something is decided before how the request was made
    csrf = CSRFProtect(app)
    csrf.exempt(page_files.bp)  # gateways, by HTTP Basic: no session cookie a forged form could ride on
    page_files.init_app(app)
    formatting.init_app(app)
    for blueprint in (
        auth.bp,
        overview.bp,
        rooms.bp,
        api.bp,
        stream.bp,
        vendor.bp,
        alert_views.bp,
        admin.bp,
        audit_views.bp,
        scans.bp,
        dossiers.bp,
        dossiers.api,
        stocktake_views.bp,
        stocktake_views.api,
        page_files.bp,
        page_views.bp,
        loan_views.bp,
        statistics_views.bp,
        relation_views.bp,
        door_views.bp,
    ):
        app.register_blueprint(blueprint)
    app.context_processor(lambda: {"active_alerts": alert_views.active_alerts()})
    event_text.init_app(app)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_headers)
    return app


def _session_key(site: SiteConfig) -> bytes:
    """The key that signs session cookies: made once per site, kept with the other secrets (mode 0600)."""
    path = site.storage.secrets / "dashboard-session.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        key = secrets.token_bytes(32)
        out.write(key.hex() + "\n")
    return key


def _http_error(error: HTTPException) -> Response | HTTPException:
    """JSON errors under /api (programs read them), Flask's HTML pages elsewhere (people read them)."""
    if not _is_api(request.path):
        return error
    response = jsonify(error=error.name.lower().replace(" ", "_"), status=error.code, message=error.description)
    response.status_code = error.code or 500
    return response


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if _is_api(request.path):
        response.headers["Cache-Control"] = "no-store"  # live values: never from a cache
    return response
