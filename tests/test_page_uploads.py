"""Dossier pages from a gateway to the dashboard: the `page` event through the ingest, the files over real
HTTP to the dashboard under waitress, through a loopback proxy that cuts, corrupts and goes down."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import jsonschema
import pytest
import requests

from dashboard.app import create_app
from dashboard.page_files import PageFiles
from dashboard.store import Store
from gateway import protocol
from gateway.uploads import PageUploads, UploadError, queued
from hardware.broker import read_password
from tests.page_support import DOSSIER, copy_dossier, entry, make_page
from tests.proxy import Proxy
from tests.support import add_user, login, wait_until
from tests.test_dashboard_page import WebServer, free_port
from tests.test_openapi import SPEC
from vision import outputs

EAST = protocol.Topics("demo", "gw-east")


@pytest.fixture(scope="session")
def made(tmp_path_factory) -> Path:
    """A dossier of three corrected pages (the second a blurred shot) and its manifest, made once."""
    root = tmp_path_factory.mktemp("stand")
    make_page(root, DOSSIER, 1, seed=11)
    make_page(root, DOSSIER, 2, seed=12, faults=("blur",))
    make_page(root, DOSSIER, 3, seed=13)
    return root


@pytest.fixture
def root(made, tmp_path) -> Path:
    return copy_dossier(made, tmp_path / "stand")


class Events:
    """The gateway's outbox and the broker, short-circuited: each event goes straight into the dashboard's
    ingest with the next seq, as the MQTT link would deliver it."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.seq = 0
        self.results: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, **fields: object) -> None:
        with self.lock:
            self.seq += 1
            event = protocol.Event(id=protocol.new_id(), seq=self.seq, ts=protocol.utc_now(), kind=kind, **fields)
            with Store(self.database) as store:
                self.results.append(store.ingest(EAST.event(kind), event.to_json()).outcome)


@pytest.fixture
def server(site, tmp_path):
    running = WebServer(create_app(site), free_port()).start()
    yield running
    running.stop()


@pytest.fixture
def proxy(server):
    running = Proxy(server.port)
    yield running
    running.close()


def uploads_for(site, url: str, events: Events, **settings) -> PageUploads:
    pages = site.pages.model_copy(update={"upload_url": url, "retry_s": 0.05, "retry_max_s": 0.3, **settings})
    return PageUploads(site.model_copy(update={"pages": pages}), "gw-east", events)


@pytest.fixture
def events(site) -> Events:
    return Events(site.dashboard_database)


def stored(site, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(f"file:{site.dashboard_database}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def files_of(root: Path) -> dict[str, int]:
    """sha256 -> size of every file of the dossier's pages its manifest lists."""
    manifest = json.loads((root / DOSSIER / "manifest.json").read_text(encoding="utf-8"))
    return {f["sha256"]: f["bytes"] for p in manifest["pages"] for f in p["files"].values()}


def assert_all_there(site, root: Path) -> None:
    store = PageFiles(site.pages_store)
    for sha, size in files_of(root).items():
        path = store.path(sha)
        assert path.stat().st_size == size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


def submit_all(uploads: PageUploads, root: Path) -> None:
    for number in (1, 2, 3):
        uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, number))
    uploads.submit_dossier(root, DOSSIER)


def test_pages_reach_the_dashboard_with_their_metadata_and_verified_files(site, server, events, root):
    uploads = uploads_for(site, server.url.rstrip("/"), events)
    submit_all(uploads, root)
    assert len(uploads.pending()) == 7  # access + master of three pages, the manifest
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="every file uploaded")
    uploads.close()
    assert_all_there(site, root)
    assert events.results == ["accepted"] * 4
    rows = stored(site, "SELECT page, qc_ok, files, retakes FROM pages WHERE dossier = ? ORDER BY page", DOSSIER)
    assert [(r[0], r[1], r[3]) for r in rows] == [(1, 1, 0), (2, 0, 0), (3, 1, 0)]
    assert json.loads(rows[0][2])["access"]["sha256"] == entry(root, DOSSIER, 1)["files"]["access"]["sha256"]
    checks = json.loads(stored(site, "SELECT checks FROM pages WHERE page = 2")[0][0])
    assert checks["blur"]["ok"] is False and checks["blur"]["reason"].startswith("blurred")
    assert stored(site, "SELECT pages FROM dossier_scans WHERE dossier = ?", DOSSIER) == [(3,)]
    assert not any((uploads.spool).iterdir()), "the spool is emptied once the dashboard has every file"


def test_a_file_the_dashboard_has_is_not_sent_again(site, server, events, root):
    first = uploads_for(site, server.url.rstrip("/"), events)
    first.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    first.start()
    wait_until(lambda: not first.pending(), what="the page uploaded")
    first.close()
    again = uploads_for(site, server.url.rstrip("/"), events)
    again.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    again.start()
    wait_until(lambda: not again.pending(), what="the page checked")
    again.close()
    assert (again.stats.already_there, again.stats.bytes_sent) == (2, 0)
    assert events.results == ["accepted", "accepted"]
    assert stored(site, "SELECT count(*), max(retakes) FROM pages") == [(1, 0)], "the same page again is no retake"


def test_a_cut_connection_resumes_from_what_the_dashboard_has(site, proxy, events, root):
    uploads = uploads_for(site, proxy.url, events, chunk_kib=64)
    proxy.cut_at = 400_000  # in the middle of the first page's files
    submit_all(uploads, root)
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="every file uploaded")
    uploads.close()
    assert proxy.cuts == 1 and uploads.stats.retries >= 1
    assert_all_there(site, root)
    total = sum(files_of(root).values()) + (root / DOSSIER / "manifest.json").stat().st_size
    # Resumed, not restarted: at most the piece in flight is sent twice (a restart would resend 400 kB).
    assert total <= uploads.stats.bytes_sent <= total + 64 * 1024


def test_a_corrupted_upload_is_refused_and_sent_again(site, server, proxy, events, root):
    uploads = uploads_for(site, proxy.url, events, chunk_kib=64)
    proxy.flip_at = 20_000  # inside the body of the first piece
    uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="the page uploaded after all")
    uploads.close()
    assert uploads.stats.refused == 1
    assert server.app.extensions["upload_refusals"]["hash_mismatch"] == 1
    for ref in entry(root, DOSSIER, 1)["files"].values():
        path = PageFiles(site.pages_store).path(ref["sha256"])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == ref["sha256"]


def test_a_queued_file_damaged_on_the_gateways_disk_is_reported_for_a_retake_and_not_retried(
    site, server, events, root
):
    uploads = uploads_for(site, server.url.rstrip("/"), events)
    page = entry(root, DOSSIER, 1)
    uploads.submit_page(root, DOSSIER, page)
    master = page["files"]["master"]
    spooled = uploads.spool / master["sha256"]
    with spooled.open("r+b") as f:  # a failing card: some bytes of the queued copy change under it
        f.seek(5000)
        f.write(b"\x00" * 64)
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="the queue emptied")
    uploads.close()
    assert uploads.stats.damaged == 1 and not spooled.exists()
    store = PageFiles(site.pages_store)
    assert store.path(page["files"]["access"]["sha256"]).exists(), "the page's other file still arrives"
    assert not store.path(master["sha256"]).exists()
    alert = stored(site, "SELECT kind, severity, device, data FROM alerts WHERE ended IS NULL")
    assert [(kind, severity, device) for kind, severity, device, _ in alert] == [
        ("page_file_damaged", "warning", f"file-{master['sha256'][:27]}")
    ]
    assert json.loads(alert[0][3]) | {"sha256": None} == {
        "dossier": DOSSIER, "page": 1, "file": "master", "name": "0001.tif", "sha256": None
    }  # fmt: skip


def test_a_queued_file_gone_from_the_gateways_disk_is_reported_too(site, server, events, root):
    uploads = uploads_for(site, server.url.rstrip("/"), events)
    page = entry(root, DOSSIER, 2)
    uploads.submit_page(root, DOSSIER, page)
    (uploads.spool / page["files"]["access"]["sha256"]).unlink()
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="the queue emptied")
    uploads.close()
    assert uploads.stats.damaged == 1
    alerts = stored(site, "SELECT data FROM alerts WHERE kind = 'page_file_damaged' AND ended IS NULL")
    assert [(json.loads(data)["page"], json.loads(data)["file"]) for (data,) in alerts] == [(2, "access")]


def test_the_dashboard_down_mid_upload_loses_no_page_and_doubles_none(site, server, proxy, events, root):
    uploads = uploads_for(site, proxy.url, events, chunk_kib=64)
    proxy.delay_s = 0.01  # slow enough to catch the upload in the middle
    submit_all(uploads, root)
    uploads.start()
    store = PageFiles(site.pages_store)
    master = entry(root, DOSSIER, 1)["files"]["master"]["sha256"]
    wait_until(lambda: store.progress(master)[0] > 0, what="the first master partly uploaded")
    proxy.down()
    server.stop()
    wait_until(lambda: uploads.stats.retries >= 3, what="the gateway retrying")
    assert len(uploads.pending()) >= 5, "nothing is dropped while the dashboard is away"
    server.start()
    proxy.delay_s = 0.0
    proxy.up()
    wait_until(lambda: not uploads.pending(), timeout=60, what="every file uploaded after the outage")
    uploads.close()
    assert_all_there(site, root)
    assert events.results == ["accepted"] * 4
    assert stored(site, "SELECT count(*) FROM pages") == [(3,)]
    assert stored(site, "SELECT count(*) FROM events WHERE kind = 'page'") == [(3,)]


def test_a_gateway_restarted_mid_upload_resumes_where_the_dashboard_stopped(site, proxy, events, root):
    first = uploads_for(site, proxy.url, events, chunk_kib=64)
    proxy.delay_s = 0.01
    first.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    first.start()
    store = PageFiles(site.pages_store)
    master = entry(root, DOSSIER, 1)["files"]["master"]["sha256"]
    size = entry(root, DOSSIER, 1)["files"]["master"]["bytes"]
    wait_until(lambda: store.progress(master)[0] > 0, what="the master partly uploaded")
    first.close()  # as a gateway that stops (or dies) mid-file
    had = store.progress(master)[0]
    assert 0 < had < size
    proxy.delay_s = 0.0
    second = uploads_for(site, proxy.url, events, chunk_kib=64)
    assert [q.kind for q in second.pending()] in (["access", "master"], ["master"])
    second.start()
    wait_until(lambda: not second.pending(), what="the rest uploaded by the restarted gateway")
    second.close()
    assert second.stats.bytes_sent <= size - had + 64 * 1024
    assert hashlib.sha256(store.path(master).read_bytes()).hexdigest() == master
    assert events.results == ["accepted"], "the page event was sent once"


def test_an_event_not_handed_over_before_a_crash_is_sent_on_restart(site, server, events, root):
    def dies(kind: str, **fields: object) -> None:
        raise RuntimeError("power cut")

    crashed = uploads_for(site, server.url.rstrip("/"), dies)
    with pytest.raises(RuntimeError):
        crashed.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    crashed.close()
    restarted = uploads_for(site, server.url.rstrip("/"), events)
    assert events.results == ["accepted"]
    restarted.start()
    wait_until(lambda: not restarted.pending(), what="the files uploaded")
    restarted.close()
    assert stored(site, "SELECT page FROM pages") == [(1,)]


def test_a_retaken_page_replaces_the_old_one_at_the_dashboard(site, server, events, root):
    uploads = uploads_for(site, server.url.rstrip("/"), events)
    old = entry(root, DOSSIER, 2)
    uploads.submit_page(root, DOSSIER, old)
    new = make_page(root, DOSSIER, 2, seed=99)  # the keeper retakes page 2: same name, new files
    uploads.submit_page(root, DOSSIER, new)
    uploads.start()
    wait_until(lambda: not uploads.pending(), what="both versions uploaded")
    uploads.close()
    (files, retakes, qc_ok) = stored(site, "SELECT files, retakes, qc_ok FROM pages WHERE page = 2")[0]
    assert json.loads(files)["master"]["sha256"] == new["files"]["master"]["sha256"] != old["files"]["master"]["sha256"]
    assert (retakes, qc_ok) == (1, 1)
    # The queued old version was not changed by the retake: the spool kept its own link to the old file.
    assert PageFiles(site.pages_store).has(old["files"]["master"]["sha256"])


def test_a_queued_page_is_on_disk_before_the_queue_says_so(site, events, root, monkeypatch):
    """A power cut leaves a file written a moment ago empty on ext4, and the queue's row survives it: each file
    is flushed before it is queued. Power cannot be cut here, so the flushes are watched as they happen."""
    flushed: set[int] = set()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        flushed.add(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    uploads = uploads_for(site, "http://127.0.0.1:9", events)
    page = entry(root, DOSSIER, 1)
    uploads.submit_page(root, DOSSIER, page)
    files = [root / DOSSIER / ref["path"] for ref in page["files"].values()]
    assert {path.stat().st_ino for path in files} <= flushed
    uploads.close()


def test_a_page_whose_file_changed_since_the_manifest_is_refused_at_once(site, events, root):
    uploads = uploads_for(site, "http://127.0.0.1:9", events)
    stale = entry(root, DOSSIER, 1)
    (root / DOSSIER / stale["files"]["access"]["path"]).write_bytes(b"not the page any more")
    with pytest.raises(UploadError, match="SHA-256"):
        uploads.submit_page(root, DOSSIER, stale)
    with pytest.raises(UploadError, match="page entry"):
        uploads.submit_page(root, DOSSIER, {"page": 4})
    assert events.results == [] and uploads.pending() == []
    uploads.close()


def test_a_wrong_upload_url_keeps_the_files_queued_with_a_clear_error(site, server, events, root):
    uploads = uploads_for(site, server.url + "not-the-dashboard", events)
    uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    uploads.start()
    wait_until(lambda: uploads.pending()[0].attempts >= 2, what="the first file tried twice")
    uploads.close()
    waiting = queued(uploads.path)
    assert [q.kind for q in waiting] == ["access", "master"], "nothing is dropped"
    assert waiting[0].last_error.startswith("HTTP 404: ")


# -- the upload endpoints, asked directly -------------------------------------------------------------


@pytest.fixture
def gateway_auth(site):
    return ("gw-east", read_password(site, "gw-east"))


def patch(server, sha: str, body: bytes, auth, offset: int = 0, length: int | None = None, **headers):
    return requests.patch(
        f"{server.url}api/uploads/{sha}",
        data=body,
        auth=auth,
        headers={
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Upload-Length": str(len(body) if length is None else length),
            **headers,
        },
        timeout=10,
    )


def test_bad_upload_requests_are_refused_with_a_clear_error(site, server, gateway_auth):
    body = b"a page" * 1000
    sha = hashlib.sha256(body).hexdigest()
    cases = [
        (patch(server, "nothex", body, gateway_auth), 400, "bad_sha256"),
        (patch(server, sha, body, gateway_auth, length=0), 400, "bad_length"),
        (patch(server, sha, body, gateway_auth, offset=-1), 400, "bad_offset"),
        (patch(server, sha, body, gateway_auth, **{"Content-Type": "image/png"}), 415, "bad_content_type"),
        (patch(server, sha, body, gateway_auth, length=10**13), 413, "too_large"),
        (patch(server, sha, body[:100], gateway_auth, offset=10, length=len(body)), 409, "wrong_offset"),
        (patch(server, sha, body + b"!", gateway_auth, length=len(body) + 1), 422, "hash_mismatch"),
    ]
    for answer, status, error in cases:
        assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
        assert answer.json()["message"]
    assert "SHA-256" in cases[-1][0].json()["message"]
    assert cases[5][0].headers["Upload-Offset"] == "0"
    wrong = patch(server, sha, body, ("gw-east", "not the password"))
    assert wrong.status_code == 401
    stranger = patch(server, sha, body, ("intruder", "x"))
    assert stranger.status_code == 401
    # In two pieces, the second starting where the first ended, then asked again: complete, nothing rewritten.
    assert patch(server, sha, body[:1000], gateway_auth, length=len(body)).headers["Upload-Offset"] == "1000"
    state = requests.get(f"{server.url}api/uploads/{sha}", auth=gateway_auth, timeout=10).json()
    assert state == {"sha256": sha, "offset": 1000, "length": len(body), "complete": False}
    components = {"components": SPEC["components"]}
    jsonschema.validate(state, {"$ref": "#/components/schemas/UploadState", **components})
    for answer, _, _ in cases:
        jsonschema.validate(answer.json(), {"$ref": "#/components/schemas/Error", **components})
    done = patch(server, sha, body[1000:], gateway_auth, offset=1000, length=len(body))
    assert done.status_code == 200 and done.json()["complete"] is True
    head = requests.head(f"{server.url}api/uploads/{sha}", auth=gateway_auth, timeout=10)
    assert head.headers["Upload-Offset"] == str(len(body))


def test_uploads_are_for_gateways_and_pages_are_not(site, server, gateway_auth):
    sha = "0" * 64
    assert requests.get(f"{server.url}api/uploads/{sha}", timeout=10).status_code == 401
    add_user(site.dashboard_database, "ann", "archivist")
    person = server.app.test_client()
    assert login(person, "ann").status_code == 302
    assert person.get(f"/api/uploads/{sha}").status_code == 403
    as_gateway = requests.get(f"{server.url}api/dossiers/{DOSSIER}/pages", auth=gateway_auth, timeout=10)
    assert as_gateway.status_code == 403
    rows = stored(site, "SELECT actor, object FROM audit WHERE action = 'access_denied' ORDER BY id")
    assert rows == [("ann", f"/api/uploads/{sha}"), ("gateway:gw-east", f"/api/dossiers/{DOSSIER}/pages")]


# -- the ingest of page events --------------------------------------------------------------------------


def page_event(seq: int, page: int = 1, sha: str = "a" * 64, **changes) -> bytes:
    record = protocol.PageRecord(
        dossier=DOSSIER,
        page=page,
        captured=protocol.utc_now(),
        device="stand",
        dpi=300.0,
        files={
            "access": protocol.FileRef(sha256=sha, bytes=10, name=f"{page:04d}.jpg"),
            "master": protocol.FileRef(sha256="b" * 64, bytes=20, name=f"{page:04d}.png"),
        },
        qc_ok=True,
        checks={"blur": protocol.QcCheck(ok=True, value=120.0, limit=60.0)},
    )
    data = protocol.page_data(record) | changes
    return protocol.Event(id=f"p{seq}", seq=seq, ts=protocol.utc_now(), kind="page", data=data).to_json()


def test_page_events_are_taken_once_and_a_late_older_one_changes_nothing(site, tmp_path):
    with Store(tmp_path / "d.db") as store:
        assert store.ingest(EAST.event("page"), page_event(5, sha="c" * 64)).outcome == "accepted"
        assert store.ingest(EAST.event("page"), page_event(5, sha="c" * 64)).outcome == "duplicate"
        assert store.ingest(EAST.event("page"), page_event(3, sha="d" * 64)).outcome == "accepted"  # from a backlog
        files = store.db.execute("SELECT files, seq, retakes FROM pages").fetchall()
    assert len(files) == 1 and json.loads(files[0][0])["access"]["sha256"] == "c" * 64 and files[0][1:] == (5, 0)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"access": "not a hash"}, "data.access"),
        ({"dossier": "../etc"}, "data.dossier"),
        ({"page": 0}, "data.page"),
        ({"master_name": "../../x.png"}, "data.master_name"),
        ({"qc_blur_ok": "yes"}, "check blur"),
        ({"colour": "red"}, "data.colour"),
        ({"captured": "yesterday"}, "data.captured"),
    ],
)
def test_a_malformed_page_event_is_refused_naming_the_field(tmp_path, changes, named):
    with Store(tmp_path / "d.db") as store:
        result = store.ingest(EAST.event("page"), page_event(1, **changes))
        assert (result.outcome, result.reason) == ("refused", "invalid")
        assert named in result.detail
        assert store.db.execute("SELECT count(*) FROM pages").fetchone() == (0,)


def test_a_partial_upload_left_for_days_is_dropped_and_a_late_gateway_starts_again(site, events, root, gateway_auth):
    store = PageFiles(site.pages_store)
    sha, size = next(iter(files_of(root).items()))
    stale = store.root / "partial" / f"{sha}-{size}"
    stale.write_bytes(b"x" * 100)
    fresh_sha = "0" * 64
    fresh = store.root / "partial" / f"{fresh_sha}-500"
    fresh.write_bytes(b"y" * 10)
    eight_days_ago = time.time() - 8 * 86400
    os.utime(stale, (eight_days_ago, eight_days_ago))

    running = WebServer(create_app(site), free_port()).start()  # a dashboard starting sweeps what was left
    try:
        assert not stale.exists()
        assert fresh.exists()  # touched within the week: a gateway may still be sending it
        state = requests.get(f"{running.url}api/uploads/{sha}", auth=gateway_auth, timeout=10).json()
        assert state["offset"] == 0 and state["length"] is None
        os.utime(fresh, (eight_days_ago, eight_days_ago))  # left while the dashboard runs
        uploads = uploads_for(site, running.url.rstrip("/"), events)
        submit_all(uploads, root)
        uploads.start()
        wait_until(lambda: not uploads.pending(), timeout=120, what="every file uploaded")
        uploads.close()
        assert_all_there(site, root)
        assert not fresh.exists(), "a completed upload sweeps what was abandoned meanwhile"
    finally:
        running.stop()


def test_a_partial_upload_being_written_is_never_swept(site):
    store = PageFiles(site.pages_store)
    sha = "a" * 64
    part = store.root / "partial" / f"{sha}-1000"
    part.write_bytes(b"z" * 10)
    os.utime(part, (0, 0))
    with store.writing(sha):  # a request is appending to it right now
        assert store.drop_abandoned(86400) == []
    assert part.exists()
    assert store.drop_abandoned(86400) == [part.name]


# -- the gateway's disk: a page's files leave it once the dashboard has had them a while ------------------


def masters_of(root: Path) -> set[str]:
    return {p.name for p in (root / DOSSIER).glob("*.png")} | {p.name for p in (root / DOSSIER).glob("*.tif")}


def access_of(root: Path) -> set[str]:
    return {p.name for p in (root / DOSSIER).glob("*.jpg")}


def test_masters_then_access_copies_the_dashboard_has_leave_the_gateway_after_their_days(site, server, events, root):
    uploads = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=7, keep_access_days=30)
    submit_all(uploads, root)
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="every file uploaded")
    uploads.stop()
    masters, access = masters_of(root), access_of(root)
    assert len(masters) == len(access) == 3
    assert uploads.prune_delivered(root) == [], "kept for a week after the dashboard confirmed them"
    uploads.close()

    week_on = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=0, keep_access_days=30)
    assert {p.name for p in week_on.prune_delivered(root)} == masters and masters_of(root) == set()
    assert access_of(root) == access, "the access copies are kept longer"
    week_on.close()

    month_on = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=0, keep_access_days=0)
    assert {p.name for p in month_on.prune_delivered(root)} == access and access_of(root) == set()
    month_on.close()
    assert sorted(p.name for p in (root / DOSSIER).iterdir()) == ["manifest.json"], "the manifest always stays"
    assert_all_there(site, root)  # the dashboard still has every file of every page


def page_1_delivered(site, server, events, root) -> PageUploads:
    """An uploader (keeping nothing after delivery) that has delivered page 1 and stopped; still open."""
    uploads = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=0, keep_access_days=0)
    uploads.submit_page(root, DOSSIER, entry(root, DOSSIER, 1))
    uploads.start()
    wait_until(lambda: not uploads.pending(), timeout=60, what="page 1 uploaded")
    uploads.stop()
    return uploads


@pytest.mark.parametrize("kind", ["master", "access"])
def test_a_new_file_written_under_a_delivered_name_is_never_removed(site, server, events, root, kind):
    uploads = page_1_delivered(site, server, events, root)
    rewritten = root / DOSSIER / entry(root, DOSSIER, 1)["files"][kind]["path"]
    rewritten.write_bytes(b"a retake's file, the instant before its manifest is written")
    removed = uploads.prune_delivered(root)
    assert rewritten not in removed and rewritten.exists()
    assert len(removed) == 1, "the page's other file, delivered and unchanged, goes"
    uploads.close()


def test_a_queue_from_before_keeps_what_it_knew_was_delivered(site, server, events, root):
    uploads = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=0)
    path = uploads.path
    uploads.close()
    with sqlite3.connect(path) as db:  # as the queue looked when only masters were removed
        db.execute("DROP TABLE delivered")
        db.execute("CREATE TABLE delivered_masters (sha256 TEXT, dossier TEXT, name TEXT, at REAL)")
        master = json.loads((root / DOSSIER / "manifest.json").read_text())["pages"][0]["files"]["master"]
        db.execute("INSERT INTO delivered_masters VALUES (?, ?, ?, 0)", (master["sha256"], DOSSIER, master["path"]))
    db.close()
    reopened = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=0)
    assert [p.name for p in reopened.prune_delivered(root)] == [master["path"]]
    reopened.close()


def test_a_pdf_an_older_gateway_made_and_delivered_leaves_it_with_the_masters(site, server, events, root):
    pdf = outputs.finish_dossier(root, DOSSIER)  # a gateway made one at each session's end, and uploaded it
    assert pdf is not None
    uploads = uploads_for(site, server.url.rstrip("/"), events, keep_masters_days=7)
    with sqlite3.connect(uploads.path) as db:  # delivered a week ago
        db.execute(
            "INSERT INTO delivered VALUES (?, ?, ?, ?)",
            (hashlib.sha256(pdf.read_bytes()).hexdigest(), DOSSIER, pdf.name, time.time() - 8 * 86400),
        )
    db.close()
    assert uploads.prune_delivered(root) == [pdf] and not pdf.exists()
    uploads.close()


def test_a_pdf_an_older_gateway_made_that_the_queue_knows_nothing_of_leaves_it_but_never_while_queued(
    site, events, root
):
    pdf = outputs.finish_dossier(root, DOSSIER)  # made at a session's end, delivered before PDFs were recorded
    assert pdf is not None
    uploads = uploads_for(site, f"http://127.0.0.1:{free_port()}", events, keep_masters_days=7, keep_access_days=30)
    assert uploads.prune_delivered(root) == [], "made today: kept as a delivered one would be"
    week_ago = time.time() - 8 * 86400
    os.utime(pdf, (week_ago, week_ago))
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    with sqlite3.connect(uploads.path) as db:  # still queued, as an older gateway left its queue
        db.execute(
            "INSERT INTO files (sha256, bytes, name, dossier, page, kind, queued) VALUES (?, ?, ?, ?, NULL, 'pdf', ?)",
            (sha, pdf.stat().st_size, pdf.name, DOSSIER, week_ago),
        )
    db.close()
    assert uploads.prune_delivered(root) == [] and pdf.exists(), "never one still waiting for the dashboard"
    with sqlite3.connect(uploads.path) as db:
        db.execute("DELETE FROM files")
    db.close()
    uploads.in_use = lambda: {DOSSIER}
    assert uploads.prune_delivered(root) == [] and pdf.exists(), "nor while the dossier is at a stand"
    uploads.in_use = frozenset
    assert uploads.prune_delivered(root) == [pdf] and not pdf.exists()
    assert len(masters_of(root)) == len(access_of(root)) == 3, "the pages, never delivered, all stay"
    uploads.close()


def test_files_not_yet_at_the_dashboard_are_never_removed(site, events, root):
    nobody = f"http://127.0.0.1:{free_port()}"
    uploads = uploads_for(site, nobody, events, keep_masters_days=0, keep_access_days=0)
    submit_all(uploads, root)
    uploads.start()
    wait_until(lambda: uploads.stats.retries >= 2, timeout=60, what="the uploader trying in vain")
    uploads.stop()
    assert uploads.prune_delivered(root) == [] and len(masters_of(root)) == len(access_of(root)) == 3
    uploads.close()


def test_a_page_retaken_since_its_delivery_stays_until_the_new_files_are_delivered(site, server, events, root):
    uploads = page_1_delivered(site, server, events, root)
    before = {p for p in (root / DOSSIER).iterdir() if p.name.startswith("0001.")}
    make_page(root, DOSSIER, 1, seed=21)  # a retake: a new master and access copy under the same names
    assert uploads.prune_delivered(root) == []
    assert all(p.exists() for p in before) and len(before) == 2
    uploads.close()


def test_the_files_of_a_dossier_open_at_a_stand_stay_until_its_session_ends(site, server, events, root):
    uploads = page_1_delivered(site, server, events, root)
    uploads.in_use = lambda: {DOSSIER}  # the keeper is at the stand with it: the station shows its pages
    assert uploads.prune_delivered(root) == []
    uploads.in_use = frozenset  # the session ended
    assert {p.name for p in uploads.prune_delivered(root)} == {"0001.jpg", "0001.tif"}
    uploads.close()
