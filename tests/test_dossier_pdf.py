"""A dossier's PDF, made by the dashboard from the access copies of all its pages, in page order.

The pages get there as on a site: corrected by the pipeline, queued by the gateway's uploader, their
events through the ingest and their files over HTTP to the dashboard under waitress. The PDF is read back
with pikepdf: each of its pages must embed the very access JPEG the gateway's manifest names.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest

from dashboard import dossier_pdf
from dashboard.app import create_app
from dashboard.page_files import PageFiles
from gateway import protocol
from gateway.uploads import PageUploads
from tests.page_support import DOSSIER, copy_dossier, entry, make_page
from tests.support import add_user, login, wait_until
from tests.test_copystand import CODE, Stand  # the simulated stand, its camera and the real pipeline
from tests.test_dashboard_page import WebServer, free_port
from tests.test_page_uploads import Events, made, uploads_for  # noqa: F401  (made: the session's dossier)
from vision import outputs

PDF_URL = f"/dossiers/{DOSSIER}/pdf"


@dataclass
class Site:
    """The dashboard with dossier A01-0001's first session (pages 1-3) uploaded by gw-east; and that gateway."""

    config: object
    server: WebServer
    root: Path
    events: Events

    def uploader(self) -> PageUploads:
        return uploads_for(self.config, self.server.url.rstrip("/"), self.events)

    def session(self, *numbers: int) -> None:
        """A copy-stand session's pages (already saved under root) and its end, all uploaded."""
        uploads = self.uploader()
        for number in numbers:
            uploads.submit_page(self.root, DOSSIER, entry(self.root, DOSSIER, number))
        uploads.submit_dossier(self.root, DOSSIER)
        uploads.start()
        wait_until(lambda: not uploads.pending(), timeout=60, what="the session's files uploaded")
        uploads.close()

    def access_copies(self, *numbers: int) -> list[bytes]:
        return [(self.root / DOSSIER / f"{n:04d}.jpg").read_bytes() for n in numbers]


@pytest.fixture
def dashboard(site, made, tmp_path) -> Iterator[Site]:  # noqa: F811
    running = WebServer(create_app(site), free_port()).start()
    add_user(site.dashboard_database, "ann", "archivist")
    scanned = Site(site, running, copy_dossier(made, tmp_path / "stand"), Events(site.dashboard_database))
    scanned.session(1, 2, 3)
    yield scanned
    running.stop()


@pytest.fixture
def client(dashboard):
    client = dashboard.server.app.test_client()
    login(client, "ann")
    return client


def embedded(pdf: bytes) -> list[bytes]:
    """The image each page of the PDF shows, as stored in the PDF (img2pdf puts a JPEG in as it is)."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return [next(iter(page.Resources.XObject.values())).read_raw_bytes() for page in document.pages]


def pdf_views(site) -> list[dict]:
    with sqlite3.connect(site.dashboard_database) as db:
        rows = db.execute("SELECT object, detail FROM audit WHERE action = 'dossier_pdf_viewed' ORDER BY id")
        return [{"object": obj, **json.loads(detail)} for obj, detail in rows]


def kept(site) -> list[Path]:
    """The dossier's PDFs the dashboard keeps."""
    return sorted((site.pages_store / "pdfs" / DOSSIER).glob("*.pdf"))


def test_the_pdf_holds_every_page_of_two_sessions_in_page_order(site, dashboard, client):
    first = client.get(PDF_URL)
    assert (first.status_code, first.mimetype) == (200, "application/pdf")
    assert first.headers["Cache-Control"] == "private, no-store"
    assert embedded(first.data) == dashboard.access_copies(1, 2, 3)
    make_page(dashboard.root, DOSSIER, 4, seed=14)  # days later the keeper adds a page
    make_page(dashboard.root, DOSSIER, 2, seed=22)  # and retakes the second
    dashboard.session(4, 2)
    second = client.get(PDF_URL)
    assert embedded(second.data) == dashboard.access_copies(1, 2, 3, 4)
    assert embedded(second.data)[1] != embedded(first.data)[1], "page 2 is the retake"
    assert [(v["object"], v["pages"]) for v in pdf_views(site)] == [(DOSSIER, 3), (DOSSIER, 4)]
    assert len(kept(site)) == 1, "the PDF of the first session's pages is gone with them"


def test_the_same_pages_give_the_same_pdf_made_once(site, dashboard, client):
    first = client.get(PDF_URL)
    (path,) = kept(site)
    made_at = path.stat().st_mtime_ns
    again = client.get(PDF_URL)
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert kept(site) == [path] and path.stat().st_mtime_ns >= made_at
    listed = [p["files"]["access"]["sha256"] for p in client.get(f"/api/dossiers/{DOSSIER}/pages").json["pages"]]
    key = hashlib.sha256("".join(f"{n}:{sha}\n" for n, sha in enumerate(listed, 1)).encode()).hexdigest()
    assert path.name == f"{key}.pdf"
    assert [v["made_of"] for v in pdf_views(site)] == [key, key], "the audit names the pages' hashes it holds"
    part = client.get(PDF_URL, headers={"Range": "bytes=0-4"})  # a PDF viewer reads it in ranges
    assert (part.status_code, part.data) == (206, b"%PDF-")


def test_a_pdf_removed_by_a_retakes_new_pdf_just_after_it_was_found_is_served_as_the_pages_are_now(
    site, dashboard, client, monkeypatch
):
    found = []
    real = dossier_pdf.kept_pdf

    def kept_pdf(*args):
        path = real(*args)
        if not found:  # the first request's PDF goes, as another request's newer PDF would remove it
            path.unlink()
        found.append(path)
        return path

    monkeypatch.setattr(dossier_pdf, "kept_pdf", kept_pdf)
    answer = client.get(PDF_URL)
    assert answer.status_code == 200 and embedded(answer.data) == dashboard.access_copies(1, 2, 3)
    assert len(found) == 2 and len(pdf_views(site)) == 1


def test_two_archivists_asking_at_once_get_the_same_pdf_made_once(site, dashboard):
    def fetch(answers: list[bytes]) -> None:
        client = dashboard.server.app.test_client()
        login(client, "ann")
        answers.append(client.get(PDF_URL).data)

    answers: list[bytes] = []
    threads = [threading.Thread(target=fetch, args=(answers,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 2 and answers[0] == answers[1]
    assert embedded(answers[0]) == dashboard.access_copies(1, 2, 3)
    assert [p.name for p in kept(site)] == [f"{pdf_views(site)[0]['made_of']}.pdf"]


def test_one_pdf_is_made_at_a_time_whatever_the_dossier(site, dashboard, client, monkeypatch):
    """img2pdf holds a dossier's pages in memory while it writes: two long dossiers at once would need twice."""
    making, most = [0], [0]
    lock = threading.Lock()
    real = dossier_pdf._make

    def make(*args) -> None:
        with lock:
            making[0] += 1
            most[0] = max(most[0], making[0])
        try:
            real(*args)
        finally:
            with lock:
                making[0] -= 1

    monkeypatch.setattr(dossier_pdf, "_make", make)
    store = PageFiles(site.pages_store)
    made_of = dossier_pdf.contents(client.get(f"/api/dossiers/{DOSSIER}/pages").json["pages"])
    codes = ["A01-0001", "A01-0002", "A01-0003"]
    threads = [
        threading.Thread(target=dossier_pdf.kept_pdf, args=(site.pages_store, code, made_of, store.path))
        for code in codes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert most == [1]
    assert all((site.pages_store / "pdfs" / code / f"{made_of.key}.pdf").is_file() for code in codes)


def test_a_dossier_with_no_pages_has_no_pdf_and_says_so(site, dashboard, client):
    answer = client.get("/dossiers/NO-SUCH/pdf")
    assert answer.status_code == 404
    assert "NO-SUCH 尚无翻拍页面，因此没有 PDF。" in answer.get_data(as_text=True)
    assert pdf_views(site) == []
    assert client.get("/api/dossiers/NO-SUCH/pages").json["pdf"] is None


def test_a_stored_page_that_no_longer_reads_as_a_jpeg_is_named_and_no_pdf_is_left_half_made(
    site, dashboard, client, caplog
):
    files = PageFiles(site.pages_store)
    sha = hashlib.sha256(dashboard.access_copies(2)[0]).hexdigest()
    files.path(sha).write_bytes(b"\xff\xd8\xff\xe0 the disk under the page store is failing")
    answer = client.get(PDF_URL)
    assert answer.status_code == 500
    assert f"无法生成 {DOSSIER} 的 PDF：{sha}" in answer.get_data(as_text=True)
    assert f"cannot make the PDF of {DOSSIER}" in caplog.text
    assert kept(site) == [] and not list((site.pages_store / "pdfs" / DOSSIER).glob(".*.part"))
    assert pdf_views(site) == []


def test_while_a_page_is_still_uploading_the_pdf_waits_for_it(site, dashboard, client):
    make_page(dashboard.root, DOSSIER, 4, seed=14)
    uploads = dashboard.uploader()  # not started: page 4's event is in, its files are not
    uploads.submit_page(dashboard.root, DOSSIER, entry(dashboard.root, DOSSIER, 4))
    answer = client.get(PDF_URL)
    assert answer.status_code == 404 and "仍在上传：第 4 页" in answer.get_data(as_text=True)
    assert client.get(f"/api/dossiers/{DOSSIER}/pages").json["pdf"] == {
        "pages": 4,
        "ready": False,
        "waiting": 1,
        "url": PDF_URL,
    }
    assert "尚有 1 页在上传" in client.get(f"/dossiers/{DOSSIER}/pages").get_data(as_text=True)
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="page 4 uploaded")
    uploads.close()
    assert embedded(client.get(PDF_URL).data) == dashboard.access_copies(1, 2, 3, 4)
    assert [v["pages"] for v in pdf_views(site)] == [4]


def test_a_pdf_an_older_gateway_uploaded_is_still_served(site, dashboard, client):
    """Before the dashboard made PDFs, a gateway made one at each session's end and uploaded it with the
    `dossier_scanned` event. The dashboard serves it while it cannot make a complete one itself."""
    gateways = outputs.finish_dossier(dashboard.root, DOSSIER)  # what the copy stand did then
    assert gateways is not None
    store = PageFiles(site.pages_store)
    refs = {}
    for kind, path in (("pdf", gateways), ("manifest", dashboard.root / DOSSIER / "manifest.json")):
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        store.path(sha).parent.mkdir(exist_ok=True)
        store.path(sha).write_bytes(path.read_bytes())  # uploaded then
        refs[kind] = protocol.FileRef(sha256=sha, bytes=path.stat().st_size, name=path.name)
    scan = protocol.DossierScan(dossier=DOSSIER, pages=3, files=refs)
    dashboard.events("dossier_scanned", message="3 page(s) scanned", data=protocol.dossier_scan_data(scan))
    assert dashboard.events.results[-1] == "accepted"
    make_page(dashboard.root, DOSSIER, 4, seed=14)
    uploads = dashboard.uploader()
    uploads.submit_page(dashboard.root, DOSSIER, entry(dashboard.root, DOSSIER, 4))  # its file never came
    uploads.close()
    answer = client.get(PDF_URL)
    assert answer.status_code == 200 and answer.data == gateways.read_bytes()
    (view,) = pdf_views(site)
    assert (view["pages"], view["made_by"], view["sha256"]) == (3, "gw-east", refs["pdf"].sha256)
    assert client.get(f"/api/dossiers/{DOSSIER}/pages").json["pdf"]["ready"] is True


def test_kept_pdfs_nobody_opened_for_a_month_are_removed(site, dashboard, client):
    client.get(PDF_URL)
    (path,) = kept(site)
    assert dossier_pdf.drop_unused(site.pages_store, 30 * 86400) == []
    assert dossier_pdf.drop_unused(site.pages_store, 30 * 86400, now=path.stat().st_mtime + 31 * 86400) == [path]
    assert embedded(client.get(PDF_URL).data) == dashboard.access_copies(1, 2, 3), "made again when asked for"


def test_a_dossier_continued_after_the_gateway_removed_its_pages_numbers_on_and_its_pdf_is_whole(site, tmp_path):
    """The copy stand as on a site: a first session, its files delivered and removed from the gateway (the
    manifest stays), a second session days later; the dashboard's PDF has every page of both, in order."""
    running = WebServer(create_app(site), free_port()).start()
    try:
        add_user(site.dashboard_database, "ann", "archivist")
        events = Events(site.dashboard_database)
        url = running.url.rstrip("/")
        uploads = uploads_for(site, url, events, keep_masters_days=0, keep_access_days=0)
        stand = Stand(tmp_path / "pages")
        stand.session.on_page, stand.session.on_end = uploads.submit_page, uploads.submit_dossier
        uploads.in_use = lambda: {stand.session.view.dossier} - {None}
        folder = tmp_path / "pages" / CODE
        uploads.start()

        stand.session.handle("tag", CODE)
        assert [stand.shoot(seed).last.page for seed in (1, 2)] == [1, 2]
        wait_until(lambda: not uploads.pending(), timeout=60, what="pages 1 and 2 uploaded")
        assert uploads.prune_delivered(tmp_path / "pages") == [], "nothing goes while the dossier is at the stand"
        stand.session.handle("tag", CODE)  # the session ends
        wait_until(lambda: not uploads.pending(), timeout=60, what="the manifest uploaded")
        removed = uploads.prune_delivered(tmp_path / "pages")
        assert sorted(p.name for p in removed) == ["0001.jpg", "0001.tif", "0002.jpg", "0002.tif"]
        assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]

        stand.session.handle("tag", CODE)  # days later the keeper continues the dossier
        assert stand.session.view.pages == 2
        assert stand.shoot(3).last.page == 3
        stand.session.handle("tag", CODE)
        wait_until(lambda: not uploads.pending(), timeout=60, what="page 3 uploaded")
        uploads.close()

        client = running.app.test_client()
        login(client, "ann")
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        recorded = [p["files"]["access"]["sha256"] for p in manifest["pages"]]
        pdf = client.get(f"/dossiers/{CODE}/pdf")
        assert pdf.status_code == 200
        assert [hashlib.sha256(jpeg).hexdigest() for jpeg in embedded(pdf.data)] == recorded
        assert [p["page"] for p in manifest["pages"]] == [1, 2, 3]
        assert [(v["object"], v["pages"]) for v in pdf_views(site)] == [(CODE, 3)]
    finally:
        running.stop()
