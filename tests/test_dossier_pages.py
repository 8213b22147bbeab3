"""A dossier's scanned pages on the dashboard: for archivists only, in Chinese and English, every view audited.

The pages get there as they do on a site: corrected by the pipeline, queued by the gateway's uploader,
their events through the ingest and their files over HTTP to the dashboard under waitress.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import jsonschema
import pytest
from playwright.sync_api import expect

from dashboard import page_views
from dashboard.app import create_app
from tests.page_support import DOSSIER, copy_dossier, entry
from tests.support import add_user, csrf_token, login, login_page, wait_until
from tests.test_dashboard_page import WebServer, browser, free_port  # noqa: F401  (browser: a fixture)
from tests.test_openapi import SPEC
from tests.test_page_uploads import Events, made, uploads_for  # noqa: F401  (made: the session's dossier)
from tests.test_translations import visible_text


@pytest.fixture
def server(site, made, tmp_path) -> Iterator[WebServer]:  # noqa: F811
    """The dashboard, with dossier A01-0001's three pages and manifest uploaded by gw-east, and its users."""
    running = WebServer(create_app(site), free_port()).start()
    for name, role in (("ann", "archivist"), ("kim", "keeper"), ("ada", "auditor")):
        add_user(site.dashboard_database, name, role)
    with sqlite3.connect(site.dashboard_database) as db:
        db.execute(
            "INSERT INTO dossiers (code, name, unit, imported, source) VALUES (?, '张伟', '人事处', '2026-11-23', 't')",
            (DOSSIER,),
        )
    root = copy_dossier(made, tmp_path / "stand")
    uploads = uploads_for(site, running.url.rstrip("/"), Events(site.dashboard_database))
    for number in (1, 2, 3):
        uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, number))
    uploads.submit_dossier(root, DOSSIER)
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="the dossier uploaded")
    uploads.close()
    yield running
    running.stop()


def audit_rows(site, since: int = 0) -> list[tuple]:
    with sqlite3.connect(site.dashboard_database) as db:
        return db.execute(
            "SELECT actor, action, object, detail FROM audit WHERE id > ? AND action NOT IN ('login', 'logout')"
            " ORDER BY id",
            (since,),
        ).fetchall()


def test_an_archivist_reads_the_pages_and_each_view_is_audited(site, server, made):  # noqa: F811
    client = server.app.test_client()
    login(client, "ann")
    listed = client.get(f"/dossiers/{DOSSIER}/pages")
    assert listed.status_code == 200
    html = listed.get_data(as_text=True)
    assert html.count('src="data:image/jpeg;base64,') == 3, "a small copy of each page, inline"
    assert "张伟" in html and f'href="/dossiers/{DOSSIER}"' in html
    assert client.get(f"/dossiers/{DOSSIER}/pages/2").status_code == 200
    image = client.get(f"/dossiers/{DOSSIER}/pages/2/access")
    assert (image.status_code, image.mimetype) == (200, "image/jpeg")
    assert image.headers["Cache-Control"] == "private, no-store"
    assert image.data == (made / DOSSIER / "0002.jpg").read_bytes()
    pdf = client.get(f"/dossiers/{DOSSIER}/pdf")
    assert (pdf.status_code, pdf.mimetype, pdf.data[:5]) == (200, "application/pdf", b"%PDF-")
    api = client.get(f"/api/dossiers/{DOSSIER}/pages")
    assert api.status_code == 200
    schema = SPEC["paths"]["/api/dossiers/{code}/pages"]["get"]["responses"]["200"]["content"]["application/json"]
    jsonschema.validate(api.json, {**schema["schema"], "components": SPEC["components"]})
    assert [p["page"] for p in api.json["pages"]] == [1, 2, 3]
    assert [p["qc"]["ok"] for p in api.json["pages"]] == [True, False, True]
    assert all(f["uploaded"] for p in api.json["pages"] for f in p["files"].values())
    assert client.get(api.json["pages"][0]["files"]["master"]["url"]).mimetype == "image/tiff"
    actions = [(actor, action, obj) for actor, action, obj, _ in audit_rows(site)]
    assert actions == [
        ("ann", "pages_viewed", DOSSIER),
        ("ann", "page_viewed", f"{DOSSIER}/0002"),
        ("ann", "page_file_viewed", f"{DOSSIER}/0002"),
        ("ann", "dossier_pdf_viewed", DOSSIER),
        ("ann", "pages_viewed", DOSSIER),
        ("ann", "page_file_viewed", f"{DOSSIER}/0001"),
    ]
    assert '"pages": [1, 2, 3]' in audit_rows(site)[0][3]


def test_a_long_dossier_is_listed_a_screen_at_a_time_and_each_screen_audits_the_pages_it_showed(
    site, server, monkeypatch
):
    monkeypatch.setattr(page_views, "PER_SCREEN", 2)  # three pages: two screens
    client = server.app.test_client()
    login(client, "ann")
    first = client.get(f"/dossiers/{DOSSIER}/pages").get_data(as_text=True)
    assert first.count('src="data:image/jpeg;base64,') == 2
    assert "第 1–2 页，共 3 页" in first and 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get(f"/dossiers/{DOSSIER}/pages?screen=2").get_data(as_text=True)
    assert second.count('src="data:image/jpeg;base64,') == 1
    assert "第 3–3 页，共 3 页" in second and 'rel="prev"' in second and 'rel="next"' not in second
    beyond = client.get(f"/dossiers/{DOSSIER}/pages?screen=99").get_data(as_text=True)
    assert "第 3–3 页，共 3 页" in beyond, "a screen past the end shows the last"
    viewed = [json.loads(detail)["pages"] for _, action, _, detail in audit_rows(site) if action == "pages_viewed"]
    assert viewed == [[1, 2], [3], [3]]


def test_unknown_dossiers_pages_and_files_are_404_and_bad_codes_never_reach_the_disk(server):
    client = server.app.test_client()
    login(client, "ann")
    assert client.get("/dossiers/NO-SUCH/pages").status_code == 200  # a dossier with no pages yet
    assert "尚未数字化任何页面" in client.get("/dossiers/NO-SUCH/pages").get_data(as_text=True)
    assert client.get(f"/dossiers/{DOSSIER}/pages/9").status_code == 404
    assert client.get(f"/dossiers/{DOSSIER}/pages/1/passwd").status_code == 404
    assert client.get("/dossiers/NO-SUCH/pdf").status_code == 404
    assert client.get("/api/dossiers/..%2F..%2Fetc/pages").status_code == 404


@pytest.mark.parametrize("user", ["kim", "ada"])
def test_keepers_and_auditors_are_refused_and_the_refusal_is_audited(site, server, user):
    client = server.app.test_client()
    login(client, user)
    for url in (f"/dossiers/{DOSSIER}/pages", f"/dossiers/{DOSSIER}/pages/1/access", f"/api/dossiers/{DOSSIER}/pages"):
        assert client.get(url).status_code == 403
    rows = audit_rows(site)
    assert [(a, action) for a, action, _, _ in rows] == [(user, "access_denied")] * 3


def test_the_pages_read_in_chinese_without_english_words(server):
    client = server.app.test_client()
    login(client, "ann")
    allowed = {"A", "PDF", "dpi", "MB", "JPEG", "OCR", "test", "stand", "gw", "east", "English", "ann", "archivist",
               "CST", "jpg", "png", "tif"}  # fmt: skip
    for path in (f"/dossiers/{DOSSIER}/pages", f"/dossiers/{DOSSIER}/pages/2"):
        text = visible_text(client.get(path).get_data(as_text=True))
        words = set(re.findall(r"[A-Za-z]+", text)) - allowed
        assert words == set(), f"{path}: English left on a Chinese page: {sorted(words)}"
    assert "图像模糊" in visible_text(client.get(f"/dossiers/{DOSSIER}/pages/2").get_data(as_text=True))


@pytest.mark.browser
def test_in_chromium_an_archivist_sees_the_pages_and_opens_one_large(site, server, browser, tmp_path):  # noqa: F811
    page = browser.new_page(locale="zh-CN")
    login_page(page, server.url, "ann")
    page.goto(f"{server.url}dossiers/{DOSSIER}/pages")
    items = page.locator("ol.page-list li")
    expect(items).to_have_count(3)
    expect(items.nth(1)).to_have_class(re.compile("qc-bad"))
    expect(items.nth(1).locator("[data-field=verdict]")).to_contain_text("建议重拍")
    expect(items.nth(1).locator("[data-field=verdict]")).to_contain_text("清晰度")
    expect(items.nth(0).locator("[data-field=verdict]")).to_have_text("质量合格")
    for i in range(3):  # each small copy decoded by the browser, not a broken image
        assert items.nth(i).locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("[data-field=pdf]")).to_contain_text("3 页")
    page.screenshot(path=str(tmp_path / "pages.png"), full_page=True)
    with page.expect_navigation():
        items.nth(1).locator("a").click()
    expect(page.locator("h2")).to_contain_text("第 2 页，共 3 页")
    large = page.locator(".page-large img")
    expect(large).to_be_visible()
    page.wait_for_function("() => document.querySelector('.page-large img').naturalWidth > 0")
    expect(page.locator("tr[data-check=blur]")).to_have_class("bad")
    with page.expect_navigation():
        page.get_by_role("link", name="下一页").click()
    expect(page.locator("h2")).to_contain_text("第 3 页")
    page.close()
    viewed = [(a, action, obj) for a, action, obj, _ in audit_rows(site)]
    assert viewed == [
        ("ann", "pages_viewed", DOSSIER),
        ("ann", "page_viewed", f"{DOSSIER}/0002"),
        ("ann", "page_file_viewed", f"{DOSSIER}/0002"),
        ("ann", "page_viewed", f"{DOSSIER}/0003"),
        ("ann", "page_file_viewed", f"{DOSSIER}/0003"),
    ]


@pytest.mark.browser
def test_in_chromium_a_keeper_is_refused(server, browser):  # noqa: F811
    page = browser.new_page(locale="zh-CN")
    login_page(page, server.url, "kim")
    answer = page.goto(f"{server.url}dossiers/{DOSSIER}/pages")
    assert answer is not None and answer.status == 403
    expect(page.locator("body")).not_to_contain_text(DOSSIER + " ")
    assert page.locator("ol.page-list").count() == 0
    page.close()


def test_an_archivist_who_chooses_english_reads_the_pages_in_english(server):
    client = server.app.test_client()
    login(client, "ann")
    token = csrf_token(client.get(f"/dossiers/{DOSSIER}/pages").get_data(as_text=True))
    client.post("/language", data={"csrf_token": token, "language": "en", "next": "/"})
    listed = visible_text(client.get(f"/dossiers/{DOSSIER}/pages").get_data(as_text=True))
    assert "Scanned pages" in listed and "Retake advised: Sharpness" in listed and "数字化" not in listed
    large = visible_text(client.get(f"/dossiers/{DOSSIER}/pages/2").get_data(as_text=True))
    assert "Page 2 of 3" in large and "blurred: hold the camera still and check focus" in large


def test_the_command_line_verifies_every_kept_file_and_names_an_altered_one(site, server):
    command = [sys.executable, "-m", "storeroom", "dashboard", "pages", "verify", "--config", str(site.source)]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert "7 file(s) intact, 0 altered, 0 named by pages but not uploaded yet" in answer.stdout
    damaged = next(p for p in (site.pages_store / "files").glob("*/*") if p.name == master_sha(site, 2))
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    answer = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 1
    assert f"ALTERED {damaged.name}" in answer.stdout and f"{DOSSIER} page 2 master" in answer.stdout
    assert "6 file(s) intact, 1 altered" in answer.stdout


def master_sha(site, number: int) -> str:
    with sqlite3.connect(site.dashboard_database) as db:
        (files,) = db.execute("SELECT files FROM pages WHERE page = ?", (number,)).fetchone()
    return json.loads(files)["master"]["sha256"]


def test_an_archivist_never_sees_the_pages_of_their_own_or_a_relatives_dossier(site, server):
    from dashboard import relations

    with sqlite3.connect(site.dashboard_database) as db:
        (ann,) = db.execute("SELECT id FROM users WHERE name = 'ann'").fetchone()
        relations.link(db, user_id=ann, code=DOSSIER, relation="spouse", by="admin")
    client = server.app.test_client()
    login(client, "ann")
    for url in (f"/dossiers/{DOSSIER}/pages", f"/dossiers/{DOSSIER}/pages/1/access", f"/api/dossiers/{DOSSIER}/pages"):
        assert client.get(url).status_code == 403
    assert [(a, action, obj) for a, action, obj, _ in audit_rows(site)] == [("ann", "pages_refused", DOSSIER)] * 3
