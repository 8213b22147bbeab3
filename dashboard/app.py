"""The dashboard web app: `create_app(site)` builds it, one blueprint per area of the site.

No module-level app and no global state: everything a request needs comes from the app's config, and
each request opens its own read-only connection to the database (`dashboard.connection`).

Example (the production server is `storeroom dashboard serve`; this is how tests and scripts build it):

    >>> from hardware.config import load
    >>> import tempfile, pathlib
    >>> site = load("hardware/configs/demo.toml")
    >>> app = create_app(site, database=pathlib.Path(tempfile.mkdtemp()) / "dashboard.db")
    >>> app.test_client().get("/api/rooms").json["rooms"][0]["id"]
    'east-stack'
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from dashboard import api, connection, formatting, overview
from dashboard.store import Store
from hardware.config import SiteConfig

CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
"""Only our own scripts, styles and images: the page works on a site without internet, injected markup cannot run."""


def create_app(site: SiteConfig, *, database: Path | None = None) -> Flask:
    """The dashboard for `site`, reading `database` (default: the site's `dashboard_database`).

    The database is created and migrated here if it is new, and the site's configured rooms and
    gateways are recorded, so the first page already shows every room, even before the ingest runs.
    """
    app = Flask(__name__)
    app.config.update(
        SITE=site,
        DATABASE=Path(database or site.dashboard_database),
        STALE_AFTER_S=site.dashboard.stale_after_s,
    )
    app.json.sort_keys = False  # keep the API's fields in the order they are documented
    with Store(app.config["DATABASE"]) as store:
        store.sync_config(site)

    connection.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(overview.bp)
    app.register_blueprint(api.bp)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_headers)
    return app


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
