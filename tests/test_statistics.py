"""Statistics of dossier tracking: loans per month and by unit, overdue, stocktake coverage and findings, dossiers
per room and state, each exportable as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from dashboard.app import create_app
from dashboard.store import Store
from tests.support import add_user, csrf_token, login
from tests.test_loans import Published, event
from tests.tracking_support import Reads, import_register


def test_the_statistics_count_loans_stocktakes_and_states_and_export_them(site):
    app = create_app(site, publish=Published())
    import_register(site, app.config["DATABASE"])
    for name, role in (("kim", "keeper"), ("bob", "archivist"), ("ada", "auditor"), ("fatima", "facilities")):
        add_user(app.config["DATABASE"], name, role)
    kim, bob = app.test_client(), app.test_client()
    login(kim, "kim")
    login(bob, "bob")

    def post(client, path, **form):
        token = csrf_token(client.get("/loans/").get_data(as_text=True))
        return client.post(path, data={"csrf_token": token, **form})

    post(kim, "/loans/", codes="DA-2026-00004 DA-2026-00001", purpose="review", days="1")
    post(bob, "/loans/1/approve")
    token = csrf_token(kim.get("/stocktakes/").get_data(as_text=True))
    kim.post("/stocktakes/", data={"csrf_token": token, "scope": "east-stack/r1-A-1-2"})
    with Store(app.config["DATABASE"]) as store:
        due = store.db.execute("SELECT due FROM loan_requests").fetchone()[0]
        past = parse_time(due) - timedelta(days=2)
        event(store, 1, "dossier_checked_out", code="DA-2026-00004", loan=1, borrower="kim", due=past.isoformat())
        Reads(store, site).read("east-shelf", "east-stack/r1-A-1-2", kind="location")
    make_due(app, past)
    kim.post("/stocktakes/1/close", data={"csrf_token": token})

    ada = app.test_client()
    login(ada, "ada")
    page = ada.get("/statistics/").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="bars" data-table="loans_by_unit"' in page
    assert "各库房档案状态" in page

    def table(name: str) -> list[list[str]]:
        answer = ada.get(f"/statistics/{name}.csv")
        assert answer.status_code == 200
        return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))

    from gateway.protocol import utc_now

    assert table("loans_per_month")[1:] == [[utc_now().strftime("%Y-%m"), "1", "2"]]  # approved this month
    assert table("loans_by_unit")[1:] == [["人事处", "1"], ["办公室", "1"]]
    assert [row[:2] for row in table("overdue")[1:]] == [["1", "DA-2026-00004"]]
    assert table("stocktake_findings")[1][3:] == ["0", "1", "0", "0", "0"]  # 王五 missing
    rooms = {row[0]: row[1:] for row in table("dossiers_by_room")[1:]}
    assert rooms["east-stack"] == ["4", "2", "1", "1", "0"]  # on shelf, on loan (赵六), missing (王五)
    coverage = {row[0]: row[1:] for row in table("stocktake_coverage")[1:]}
    assert coverage["east-stack"] == ["120", "1", "119"]
    assert ada.get("/statistics/nothing.csv").status_code == 404
    fatima = app.test_client()
    login(fatima, "fatima")
    assert fatima.get("/statistics/").status_code == 403


def parse_time(text: str):
    from dashboard.schema import parse_iso

    return parse_iso(text)


def make_due(app, due) -> None:
    """Make the approved loan's due date lie in the past, as if a week had gone by."""
    import sqlite3

    from dashboard.schema import iso

    with sqlite3.connect(app.config["DATABASE"]) as db:
        db.execute("UPDATE loan_requests SET due = ?", (iso(due),))
