"""Who may open what: one table of rules, enforced for every request in one place.

Every endpoint of the app has a rule in RULES: PUBLIC, or the roles allowed. An endpoint without a
rule is refused to everyone (and a test fails), so a new page cannot be reachable by accident. Views
never check roles themselves.

A request is authenticated by its session (a login through the form) or, for programs, by an
`Authorization: Bearer <token>` header. Tokens are read-only: they work for GET requests only.
Gateways (never people) authenticate with HTTP Basic, their id and their broker password, and have the
role `gateway`, which RULES grants only the page-file uploads.
Sessions end after `dashboard.session_idle_minutes` without a request.
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext

from dashboard.audit import record
from dashboard.connection import people
from dashboard.users import ROLES, User, Users
from hardware.broker import BrokerError, read_password

log = logging.getLogger(__name__)

PUBLIC = frozenset({"*"})
EVERYONE = frozenset(ROLES)
TECHNICAL = frozenset({"facilities", "admin"})
DOSSIER_READERS = frozenset({"keeper", "archivist"})
"""Who finds dossiers and sees where they are: keepers fetch and shelve them, archivists serve requests."""
STOCKTAKE_READERS = frozenset({"keeper", "archivist", "auditor"})
"""Who reads stocktakes and their reports; keepers alone start and close them."""
GATEWAY_ROLE = "gateway"
GATEWAYS = frozenset({GATEWAY_ROLE})
"""The site's gateways themselves (HTTP Basic with their broker account), not a role a person can have."""
ARCHIVISTS = frozenset({"archivist"})
"""Dossier pages are personal data: only archivists see them, and every view is audited."""
LOAN_APPROVERS = frozenset({"archivist"})
"""Who approves or refuses a loan request (never their own, nor one of their own or a relative's dossier)."""

RULES: dict[str, frozenset[str]] = {
    "static": PUBLIC,  # styles and scripts only; no data is ever a static file
    "vendor.asset": PUBLIC,  # libraries from npm, likewise
    "auth.login": PUBLIC,
    "auth.logout": EVERYONE,
    "auth.language": EVERYONE,
    "overview.overview": EVERYONE,
    "api.rooms": EVERYONE,
    "api.gateways": EVERYONE,
    "api.ingest": TECHNICAL,
    "api.alerts_now": EVERYONE,
    "alerts.page": EVERYONE,
    "rooms.room": EVERYONE,
    "rooms.set_band": TECHNICAL,
    "api.commands": TECHNICAL,
    "api.history": EVERYONE,
    "api.climate_of": EVERYONE,
    "api.scans_now": EVERYONE,
    "scans.page": EVERYONE,
    "rooms.override": TECHNICAL,
    "stream.stream": EVERYONE,
    "alerts.acknowledge": TECHNICAL,  # refused payloads may carry anything: technical staff only
    "admin.users": frozenset({"admin"}),
    "admin.add_user": frozenset({"admin"}),
    "admin.change_user": frozenset({"admin"}),
    "audit.trail": frozenset({"auditor"}),
    "audit.export": frozenset({"auditor"}),
    # Dossier tracking (issue 8): personal data, so only those whose work needs it.
    "dossiers.search_page": DOSSIER_READERS,
    "dossiers.dossier": DOSSIER_READERS,
    "dossier_api.search": DOSSIER_READERS,
    "dossier_api.suggest": DOSSIER_READERS,
    "dossier_api.one": DOSSIER_READERS,
    "stocktakes.page": STOCKTAKE_READERS,
    "stocktakes.one": STOCKTAKE_READERS,
    "stocktakes.printable": STOCKTAKE_READERS,
    "stocktakes.report": STOCKTAKE_READERS,
    "stocktake_api.one_json": STOCKTAKE_READERS,
    "stocktakes.start": frozenset({"keeper"}),
    "stocktakes.close": frozenset({"keeper"}),
    # dossier pages from the copy stand
    "uploads.status": GATEWAYS,
    "uploads.append": GATEWAYS,
    "pages.pages": ARCHIVISTS,
    "pages.page": ARCHIVISTS,
    "pages.page_file": ARCHIVISTS,
    "pages.pdf": ARCHIVISTS,
    "pages.api_pages": ARCHIVISTS,
    "loans.page": DOSSIER_READERS,
    "loans.file_request": DOSSIER_READERS,
    "loans.approve": LOAN_APPROVERS,
    "loans.refuse": LOAN_APPROVERS,
    "loans.confirm_return": frozenset({"keeper"}),
    "statistics.page": STOCKTAKE_READERS,
    "statistics.export": STOCKTAKE_READERS,
    "relations.page": frozenset({"admin"}),
    "relations.add": frozenset({"admin"}),
    "relations.remove": frozenset({"admin"}),
    # door access (issue 7)
    "doors.page": frozenset({"keeper", "facilities", "auditor", "admin"}),
    "doors.unlock": TECHNICAL,
    "doors.register": frozenset({"keeper", "auditor", "admin"}),
    "doors.register_csv": frozenset({"auditor", "admin"}),
    "doors.permissions_page": frozenset({"admin"}),
    "doors.save_holder": frozenset({"admin"}),
    "doors.save_room": frozenset({"admin"}),
    "doors.publish": frozenset({"admin"}),
}


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Visitor:
    user: User
    by_token: bool


def current() -> Visitor | None:
    """The authenticated visitor of this request, if any (set by the guard)."""
    return g.get("visitor")


def allowed(endpoint: str) -> bool:
    """Whether the current visitor may open `endpoint` (for links and sections of pages)."""
    visitor = current()
    rule = RULES.get(endpoint)
    return rule is PUBLIC or bool(visitor and rule and visitor.user.role in rule)


def remote() -> str:
    return request.remote_addr or ""


def audit(action: str, obj: str = "", **detail: object) -> None:
    """Append to the audit trail as the current visitor (or 'anonymous')."""
    visitor = current()
    actor = visitor.user.name if visitor else "anonymous"
    record(people(), actor=actor, action=action, obj=obj, remote=remote(), detail=detail or None)


def _gateway(header: str) -> Visitor | None:
    """A gateway by HTTP Basic: its id and the broker password in `<secrets>/<gateway>.password`."""
    try:
        name, _, password = (
            base64.b64decode(header.removeprefix("Basic ").strip(), validate=True).decode().partition(":")
        )
    except (ValueError, UnicodeDecodeError):
        return None
    site = current_app.config["SITE"]
    if name not in site.gateway_ids:
        log.warning("refused HTTP credentials of %r from %s: not a gateway of the site", name[:40], remote())
        return None
    try:
        expected = read_password(site, name)
    except BrokerError as exc:
        log.error("cannot check gateway %s: %s", name, exc)
        return None
    if not hmac.compare_digest(password.encode(), expected.encode()):
        log.warning("refused HTTP credentials of gateway %s from %s: wrong password", name, remote())
        return None
    return Visitor(User(0, f"gateway:{name}", GATEWAY_ROLE, False), by_token=False)


def _identify() -> Visitor | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        return _gateway(header)
    users = Users(people())
    if header.startswith("Bearer "):
        user = users.by_token(header.removeprefix("Bearer ").strip())
        return Visitor(user, by_token=True) if user else None
    user_id = session.get("uid")
    if user_id is None:
        return None
    idle = current_app.config["SESSION_IDLE_S"]
    if time.time() - session.get("seen", 0) > idle:
        session.clear()
        return None
    user = users.by_id(user_id)
    if user is None or user.disabled:
        session.clear()
        return None
    session["seen"] = time.time()
    return Visitor(user, by_token=False)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _guard() -> Response | None:
    endpoint = request.endpoint
    if endpoint is None:  # no such route: Flask answers 404 / 405 itself
        return None
    rule = RULES.get(endpoint)
    if rule is PUBLIC:
        return None
    visitor = _identify()
    g.visitor = visitor
    if visitor is None:
        if _is_api():
            response = jsonify(error="unauthorized", status=401, message="log in, or send an API token")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="storeroom"'
            return response
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    refusal = None  # (msgid, its values): English in the audit trail and the API, translated on the page
    if rule is None:
        log.error("no access rule for endpoint %r: refused to everyone", endpoint)
        refusal = (N_("no access rule for this page"), {})
    elif visitor.user.role not in rule:
        refusal = (N_("role %(role)s may not open this"), {"role": visitor.user.role})
    elif visitor.by_token and request.method not in ("GET", "HEAD"):
        refusal = (N_("API tokens are read-only"), {})
    if refusal is None:
        return None
    english = refusal[0] % refusal[1]
    audit("access_denied", request.path, method=request.method, reason=english)
    if _is_api():
        response = jsonify(error="forbidden", status=403, message=english)
        response.status_code = 403
        return response
    return Response(render_template("forbidden.html", reason=gettext(refusal[0], **refusal[1])), status=403)


def init_app(app: Flask) -> None:
    app.before_request(_guard)
    app.jinja_env.globals.update(allowed=allowed, visitor=current)
