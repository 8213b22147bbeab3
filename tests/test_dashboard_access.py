"""Who may open what on the dashboard, logging in and out, CSRF, sessions, API tokens, the audit trail.

The role-by-route test walks the app's own route map, so a route added without an access rule fails here.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time

import pytest

from dashboard.access import PUBLIC, RULES
from dashboard.app import create_app
from dashboard.users import MAX_FAILURES, ROLES
from tests.support import PASSWORD, add_user, api_token, csrf_token, login


@pytest.fixture
def app(site):
    app = create_app(site)
    for role in ROLES:
        add_user(app.config["DATABASE"], role, role)
    return app


def as_role(app, role: str):
    client = app.test_client()
    assert login(client, role).status_code == 302
    return client


def audit_rows(app) -> list[tuple]:
    with sqlite3.connect(app.config["DATABASE"]) as db:
        return db.execute("SELECT actor, action, object FROM audit ORDER BY id").fetchall()


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, a URL) for every route of the app but static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = re.sub(r"<int:\w+>", "1", rule.rule).replace("<name>", "keeper")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_every_route_has_an_access_rule(app):
    missing = {endpoint for endpoint, _, _ in routes(app)} - RULES.keys()
    assert missing == set(), f"routes without an access rule: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_what_its_rules_allow(app, role):
    client = as_role(app, role)
    for endpoint, method, url in routes(app):
        if endpoint == "auth.logout":
            continue  # would end this client's session; covered below
        if method == "GET":
            answer = client.get(url)
        else:
            token = csrf_token(client.get("/login").get_data(as_text=True))
            data = {"csrf_token": token, "action": "none", "name": "x", "role": "keeper"}
            answer = client.open(url, method=method, data=data)
        allowed = RULES[endpoint] is PUBLIC or role in RULES[endpoint]
        if allowed:
            assert answer.status_code != 403, f"{role} should open {method} {url}"
        else:
            assert answer.status_code == 403, f"{role} must not open {method} {url} (got {answer.status_code})"


def test_without_logging_in_the_api_answers_401_in_json_and_pages_send_you_to_log_in(app):
    client = app.test_client()
    api = client.get("/api/rooms")
    assert api.status_code == 401 and api.json["error"] == "unauthorized"
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_the_login_page_is_a_plain_form(app):
    html = app.test_client().get("/login").get_data(as_text=True)
    assert html.count('type="text"') == 1 and html.count('type="password"') == 1


def test_logging_in_and_out_is_audited(app):
    client = as_role(app, "keeper")
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert ("keeper", "login", "") in audit_rows(app)
    assert ("keeper", "logout", "") in audit_rows(app)


def test_a_wrong_password_is_refused_and_audited(app):
    client = app.test_client()
    assert login(client, "keeper", "not the password").status_code == 401
    assert ("keeper", "login_failed", "") in audit_rows(app)


def test_logins_are_throttled_after_repeated_failures(app):
    client = app.test_client()
    for _ in range(MAX_FAILURES):
        login(client, "admin", "guess guess guess")
    answer = login(client, "admin", PASSWORD)  # even the right password, for a while
    assert answer.status_code == 429
    assert "尝试次数过多" in answer.get_data(as_text=True)
    assert ("admin", "login_throttled", "") in audit_rows(app)


def test_a_form_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 400
    admin = as_role(app, "admin")
    answer = admin.post("/admin/users", data={"name": "mallory", "role": "admin", "password": "x" * 12})
    assert answer.status_code == 400
    assert "mallory" not in [row[2] for row in audit_rows(app)]


def test_a_session_ends_after_the_idle_timeout(app):
    client = as_role(app, "facilities")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = time.time() - app.config["SESSION_IDLE_S"] - 1
    assert client.get("/").status_code == 302
    assert client.get("/api/rooms").status_code == 401


def test_the_session_cookie_is_http_only_and_same_site(app):
    client = app.test_client()
    answer = login(client, "keeper")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_an_api_token_reads_but_never_writes(app):
    token = api_token(app.config["DATABASE"], "admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/rooms", headers=headers).status_code == 200
    assert client.post("/admin/users", headers=headers, data={"name": "eve"}).status_code == 403
    assert client.get("/api/rooms", headers={"Authorization": "Bearer sr_wrong"}).status_code == 401


def test_a_disabled_user_is_logged_out_and_cannot_log_in(app):
    client = as_role(app, "keeper")
    admin = as_role(app, "admin")
    token = csrf_token(admin.get("/admin/users").get_data(as_text=True))
    admin.post("/admin/users/keeper", data={"csrf_token": token, "action": "disable"})
    assert client.get("/").status_code == 302
    assert login(app.test_client(), "keeper").status_code == 401
    assert ("admin", "user_disable", "keeper") in audit_rows(app)


def test_admins_add_users_in_the_web_ui(app):
    admin = as_role(app, "admin")
    token = csrf_token(admin.get("/admin/users").get_data(as_text=True))
    admin.post("/admin/users", data={"csrf_token": token, "name": "wang", "role": "keeper", "password": PASSWORD})
    assert 'data-user="wang"' in admin.get("/admin/users").get_data(as_text=True)
    assert login(app.test_client(), "wang").status_code == 302


def test_markup_in_names_is_shown_as_text(tmp_path):
    from tests.support import write_site

    path = write_site(tmp_path)
    path.write_text(path.read_text().replace('name = "East stack (compact shelving)"', 'name = "<script>x()</script>"'))
    from hardware.config import load

    app = create_app(load(path))
    add_user(app.config["DATABASE"], "keeper", "keeper")
    html = as_role(app, "keeper").get("/").get_data(as_text=True)
    assert "<script>x()</script>" not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html


# -- the audit trail ------------------------------------------------------------------------------


def storeroom(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storeroom", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def trail(app, site):
    """An audit trail of a few rows, as logins leave them."""
    for role in ("keeper", "archivist", "auditor"):
        as_role(app, role)
    return site


def test_an_intact_trail_verifies(trail):
    answer = storeroom("audit", "verify", "--config", str(trail.source))
    assert answer.returncode == 0
    assert "audit trail intact: 3 rows checked" in answer.stdout


@pytest.mark.parametrize(
    ("tamper", "row"),
    [
        ("UPDATE audit SET actor = 'someone-else' WHERE id = 2", 2),
        ("DELETE FROM audit WHERE id = 2", 3),
        (
            "UPDATE audit SET id = -1 WHERE id = 1; UPDATE audit SET id = 1 WHERE id = 2;"
            " UPDATE audit SET id = 2 WHERE id = -1",
            1,
        ),
    ],
    ids=["altered", "deleted", "reordered"],
)
def test_altering_deleting_or_reordering_rows_is_caught_and_named(trail, tamper, row):
    with sqlite3.connect(trail.dashboard_database) as db:
        db.executescript(tamper)
    answer = storeroom("audit", "verify", "--config", str(trail.source))
    assert answer.returncode == 1
    assert f"audit trail broken at row {row}" in answer.stderr


def test_auditors_read_and_export_the_trail(trail, app):
    auditor = as_role(app, "auditor")
    page = auditor.get("/audit/?action=login").get_data(as_text=True)
    assert "哈希链完整" in page
    csv_text = auditor.get("/audit/export.csv?actor=keeper").get_data(as_text=True)
    assert csv_text.startswith("\ufeffid,ts,actor,action")
    assert ",keeper,login," in csv_text


# -- users on the command line ------------------------------------------------------------------------


def test_user_add_on_the_command_line(site):
    config = str(site.source)
    added = storeroom("dashboard", "user", "add", "wang", "--role", "keeper", "--password-stdin", "--config", config,
                      stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    again = storeroom("dashboard", "user", "add", "wang", "--role", "keeper", "--password-stdin", "--config", config,
                      stdin=PASSWORD + "\n")  # fmt: skip
    assert again.returncode == 1 and again.stderr.strip() == "storeroom: user 'wang' exists already"
    wrong = storeroom("dashboard", "user", "add", "li", "--role", "boss", "--password-stdin", "--config", config,
                      stdin=PASSWORD + "\n")  # fmt: skip
    assert wrong.returncode == 1 and "role 'boss' is not one of" in wrong.stderr
    assert "wang\tkeeper\tactive" in storeroom("dashboard", "user", "list", "--config", config).stdout
    assert storeroom("dashboard", "user", "disable", "wang", "--config", config).returncode == 0
    assert "wang\tkeeper\tdisabled" in storeroom("dashboard", "user", "list", "--config", config).stdout
