"""Stocktakes reconciled from the tag reads: found, missing, misplaced and unknown, the report, closing, and when
each shelf was last checked."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from dashboard.app import create_app
from dashboard.store import Store
from tests.support import add_user, csrf_token, login
from tests.tracking_support import Reads, import_register


@pytest.fixture
def app(site):
    app = create_app(site)
    import_register(site, app.config["DATABASE"])
    for name, role in (("kim", "keeper"), ("ann", "archivist"), ("fatima", "facilities")):
        add_user(app.config["DATABASE"], name, role)
    return app


@pytest.fixture
def kim(app):
    client = app.test_client()
    login(client, "kim")
    return client


def start(client, **form) -> int:
    token = csrf_token(client.get("/stocktakes/").get_data(as_text=True))
    answer = client.post("/stocktakes/", data={"csrf_token": token, **form})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return int(answer.headers["Location"].rsplit("/", 1)[1])


def outcomes(client, number: int) -> dict[str, str]:
    return {row["code"]: row["outcome"] for row in client.get(f"/api/stocktakes/{number}").json["findings"]}


def test_a_row_stocktake_finds_misplaced_missing_and_unknown_as_the_scans_arrive(app, kim, site):
    number = start(kim, scope="east-stack/r1")
    with Store(app.config["DATABASE"]) as store:
        reads = Reads(store, site)
        reads.read("desk", "DA-2026-00003")  # not at a location of the stocktake: not counted
        reads.read("east-shelf", "east-stack/r1-A-1-1", kind="location")
        reads.read("east-shelf", "DA-2026-00001")  # at home
        reads.read("east-shelf", "DA-2026-00004")  # home on r2: misplaced
        reads.read("east-shelf", "DA-2026-09999")  # a genuine tag the register does not know
        reads.read("east-shelf", None, valid=False, uid="0AFEFEFE")  # a forged one
        assert outcomes(kim, number) == {
            "DA-2026-00001": "found", "DA-2026-00004": "misplaced", "DA-2026-09999": "unknown",
            "uid:0AFEFEFE": "unknown", "DA-2026-00002": "missing",  # its box is on the shelf visited
        }  # fmt: skip
        reads.read("east-shelf", "east-stack/r1-A-1-2", kind="location")  # the next shelf: 王五 is not there
    answer = kim.get(f"/api/stocktakes/{number}").json
    assert (answer["shelves"], answer["visited"]) == (40, ["east-stack/r1-A-1-1", "east-stack/r1-A-1-2"])
    assert answer["counts"] == {"found": 1, "missing": 2, "misplaced": 1, "unknown": 2, "on_loan": 0}
    page = kim.get(f"/stocktakes/{number}").get_data(as_text=True)
    assert '<tr class="misplaced" data-code="DA-2026-00004">' in page and "已盘 2 / 40 个架位" in page


def test_the_report_exports_as_csv_and_prints(app, kim, site):
    number = start(kim, scope="east-stack/r1-A-1-1")
    with Store(app.config["DATABASE"]) as store:
        reads = Reads(store, site)
        reads.read("east-shelf", "east-stack/r1-A-1-1", kind="location")
        reads.read("east-shelf", "DA-2026-00004")
    answer = kim.get(f"/stocktakes/{number}/report.csv")
    assert answer.headers["Content-Disposition"] == f"attachment; filename=stocktake-{number}.csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[2] == ["outcome", "code", "name", "home", "seen_at", "ts", "reason"]
    assert [r[:5] for r in rows[3:]] == [
        ["missing", "DA-2026-00001", "张三", "east-stack/r1-A-1-1", ""],
        ["missing", "DA-2026-00002", "李四", "east-stack/r1-A-1-1/box-2", ""],
        ["misplaced", "DA-2026-00004", "赵六", "east-stack/r2-B-3-4", "east-stack/r1-A-1-1"],
    ]
    printed = kim.get(f"/stocktakes/{number}/print").get_data(as_text=True)
    assert 'class="printable"' in printed and "close-stocktake" not in printed


def test_closing_freezes_the_findings_marks_shelves_checked_and_a_missing_dossier_shows_missing(app, kim, site):
    number = start(kim, scope="east-stack/r1-A-1-2")
    with Store(app.config["DATABASE"]) as store:
        Reads(store, site).read("east-shelf", "east-stack/r1-A-1-2", kind="location")
    page = kim.get(f"/stocktakes/{number}").get_data(as_text=True)
    answer = kim.post(f"/stocktakes/{number}/close", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 302
    with sqlite3.connect(app.config["DATABASE"]) as db:
        assert db.execute("SELECT code, outcome FROM stocktake_findings").fetchall() == [("DA-2026-00003", "missing")]
        assert db.execute("SELECT shelf FROM shelf_checks").fetchall() == [("east-stack/r1-A-1-2",)]
        assert db.execute("SELECT count(*) FROM audit WHERE action = 'stocktake_closed'").fetchone() == (1,)
    ann = app.test_client()
    login(ann, "ann")
    assert ann.get("/api/dossiers/DA-2026-00003").json["state"] == "missing"
    assert '<tr data-what="stocktake_missing">' in ann.get("/dossiers/DA-2026-00003").get_data(as_text=True)
    overview = kim.get("/stocktakes/").get_data(as_text=True)
    assert '<tr data-room="east-stack"><td>east-stack</td><td>120</td><td data-field="checked">1</td>' in overview
    assert '<tr class="due" data-shelf="east-stack/r1-A-1-2">' not in overview  # checked now: not due
    assert 'class="column due" data-shelf="east-stack/r1-A-1-1"' in overview  # on the plan: due, shaded
    again = kim.post(f"/stocktakes/{number}/close", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert f"stocktake {number} was closed already" in again.get_data(as_text=True)
    with Store(app.config["DATABASE"]) as store:  # found later: no longer missing
        Reads(store, site).read("desk", "DA-2026-00003")
    assert ann.get("/api/dossiers/DA-2026-00003").json["state"] == "at_desk"


def test_reads_long_after_the_location_tag_or_at_a_place_outside_the_stocktake_do_not_count(app, kim, site):
    number = start(kim, scope="east-stack/r1")
    with Store(app.config["DATABASE"]) as store:
        reads = Reads(store, site)
        reads.read("east-shelf", "east-stack/r1-A-1-1", kind="location", ago_s=3600)
        reads.read("east-shelf", "DA-2026-00001", ago_s=0)  # an hour later, without a new location tag
        reads.read("east-shelf", "west-stack/w1-A-2-1", kind="location")
        reads.read("east-shelf", "DA-2026-00005")
        reads.read("east-shelf", "nowhere-1", kind="location")
    # The shelf was visited, but 张三 was read an hour after its location tag: not counted there.
    assert outcomes(kim, number) == {"nowhere-1": "unknown", "DA-2026-00001": "missing", "DA-2026-00002": "missing"}


def test_a_bad_scope_is_refused_and_only_keepers_start_stocktakes(app, kim):
    page = kim.get("/stocktakes/").get_data(as_text=True)
    answer = kim.post("/stocktakes/", data={"csrf_token": csrf_token(page), "scope": "cellar"}, follow_redirects=True)
    assert "未开始：&#39;cellar&#39; is not the site, a room, a row or a shelf of this site" in answer.get_data(
        as_text=True
    )
    ann = app.test_client()
    login(ann, "ann")
    token = csrf_token(ann.get("/stocktakes/").get_data(as_text=True))
    assert ann.post("/stocktakes/", data={"csrf_token": token, "scope": "east-stack"}).status_code == 403
    fatima = app.test_client()
    login(fatima, "fatima")
    assert fatima.get("/stocktakes/").status_code == 403


def test_the_answer_follows_the_api_document(app, kim, site):
    import jsonschema

    from tests.test_openapi import schema_of

    number = start(kim, scope="east-stack/r1-A-1-1")
    with Store(app.config["DATABASE"]) as store:
        reads = Reads(store, site)
        reads.read("east-shelf", "east-stack/r1-A-1-1", kind="location")
        reads.read("east-shelf", "DA-2026-00004")
        reads.read("east-shelf", None, valid=False)
    jsonschema.validate(kim.get(f"/api/stocktakes/{number}").json, schema_of("/api/stocktakes/{stocktake_id}", "200"))
