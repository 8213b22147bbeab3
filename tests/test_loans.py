"""Check-out and return: requests and approvals under the rules, the loan document the gateways keep, checkout
only against an approved loan at the desk, the door's alarm, overdue loans, returns confirmed with a page count."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import relations
from dashboard.app import create_app
from dashboard.store import Store
from dashboard.users import Users, connect
from gateway import protocol
from gateway.loans import LoanDesk
from tests.support import add_user, csrf_token, login
from tests.tracking_support import import_register

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def grant(code: str, loan: int = 1, due: datetime = NOW + timedelta(days=7), out: bool = False) -> protocol.LoanGrant:
    return protocol.LoanGrant(loan=loan, code=code, borrower="kim", due=due, out=out)


def document(version: int, *grants: protocol.LoanGrant) -> protocol.LoanList:
    return protocol.LoanList(id=f"d{version}", ts=NOW, version=version, loans=list(grants))


class Desk:
    """A gateway's loan desk on a file in the test's folder, with the events it queues and a clock to set."""

    def __init__(self, site, path) -> None:
        self.site, self.path, self.events, self.now = site, path, [], NOW
        self.desk = self.reopen()

    def reopen(self) -> LoanDesk:
        self.desk = LoanDesk(self.site, self.path, lambda: self.now, lambda kind, **f: self.events.append((kind, f)))
        return self.desk

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@pytest.fixture
def desk(site, tmp_path) -> Desk:
    return Desk(site, tmp_path / "loans.json")


def test_the_desk_checks_out_only_against_an_approved_loan_and_takes_it_back(desk):
    desk.desk.apply(document(2, grant("DA-1")))
    desk.desk.on_dossier("desk", "DA-2")
    desk.desk.on_dossier("desk", "DA-1")
    desk.desk.on_dossier("desk", "DA-1")
    assert desk.kinds() == ["checkout_refused", "dossier_checked_out", "dossier_returned"]
    assert desk.events[1][1]["data"] | {"due": "x"} == {"code": "DA-1", "loan": 1, "borrower": "kim", "due": "x",
                                                         "reader": "desk"}  # fmt: skip


def test_a_newer_document_replaces_the_older_which_is_ignored_after_it_and_both_survive_a_restart(desk):
    assert desk.desk.apply(document(3, grant("DA-1"))) == (True, "loans version 3: 1 dossier(s) may leave")
    assert desk.desk.apply(document(2, grant("DA-9")))[1] == "loans version 2 ignored: version 3 is in force"
    desk.desk.on_dossier("desk", "DA-1")
    again = desk.reopen()  # the gateway restarted, the broker down: what it knew is on disk
    assert (again.version, list(again.grants()), list(again.out())) == (3, ["DA-1"], ["DA-1"])


def test_a_dossier_at_the_door_without_a_checkout_raises_the_alarm(desk):
    desk.desk.apply(document(1, grant("DA-1"), grant("DA-2", out=True)))
    desk.desk.on_dossier("east-door", "DA-1")  # approved but never checked out at the desk
    desk.desk.on_dossier("east-door", "DA-2")  # checked out at another gateway's desk
    desk.desk.on_dossier("desk", "DA-3")
    desk.desk.on_dossier("east-shelf", "DA-4")  # a keeper's station: nothing to do with loans
    assert desk.kinds() == ["unauthorised_removal", "checkout_refused"]
    _kind, fields = desk.events[0]
    assert fields["severity"] == "alarm" and fields["device"] == "east-door" and fields["data"]["code"] == "DA-1"


def test_an_overdue_loan_raises_a_warning_once_and_its_return_clears_it(desk):
    desk.desk.apply(document(1, grant("DA-1", due=NOW + timedelta(days=1))))
    desk.desk.on_dossier("desk", "DA-1")
    desk.desk.check_overdue()
    desk.now = NOW + timedelta(days=2)
    desk.desk.check_overdue()
    desk.desk.check_overdue()
    desk.desk.on_dossier("desk", "DA-1")
    assert desk.kinds() == ["dossier_checked_out", "loan_overdue", "dossier_returned", "loan_overdue"]
    assert [f["data"]["cleared"] for k, f in desk.events if k == "loan_overdue"] == [False, True]
    assert {f["device"] for k, f in desk.events if k == "loan_overdue"} == {"loan-1"}


def test_the_loan_document_is_a_command_the_protocol_validates():
    topic = protocol.Topics("demo", "gw-west").cmd("loans")
    parsed = protocol.parse(topic, document(4, grant("DA-1")).to_json())
    assert isinstance(parsed.payload, protocol.LoanList) and parsed.payload.loans[0].code == "DA-1"
    bad = json.dumps({"v": 1, "id": "x", "ts": NOW.isoformat(), "version": 0, "loans": []}).encode()
    with pytest.raises(protocol.ProtocolError, match="version: Input should be greater than or equal to 1"):
        protocol.parse(topic, bad)


# -- the dashboard -------------------------------------------------------------------------------------


class Published:
    """Stands in for the ingest's connection: what would go to the broker (topic, payload, retained)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, bool]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        self.sent.append((topic, json.loads(payload), retain))
        return True


@pytest.fixture
def published():
    return Published()


@pytest.fixture
def app(site, published):
    app = create_app(site, publish=published)
    import_register(site, app.config["DATABASE"])
    for name, role in (("kim", "keeper"), ("ann", "archivist"), ("bob", "archivist")):
        add_user(app.config["DATABASE"], name, role)
    conn = connect(app.config["DATABASE"])
    relations.link(conn, user_id=Users(conn).get("kim").id, code="DA-2026-00001", relation="self", by="test")
    relations.link(conn, user_id=Users(conn).get("ann").id, code="DA-2026-00003", relation="parent", by="test")
    conn.close()
    return app


def client_of(app, name: str):
    client = app.test_client()
    login(client, name)
    return client


def post(client, path: str, **form):
    token = csrf_token(client.get("/loans/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=True).get_data(as_text=True)


def audited(app, action: str) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(app.config["DATABASE"]) as db:
        rows = db.execute("SELECT actor, object, detail FROM audit WHERE action = ?", (action,)).fetchall()
    return [(a, o, json.loads(d)) for a, o, d in rows]


def event(store, seq: int, kind: str, **data) -> None:
    body = protocol.Event(id=f"e{seq}", seq=seq, ts=protocol.utc_now(), kind=kind, device="desk",
                          data={"reader": "desk", **data})  # fmt: skip
    assert store.ingest(protocol.Topics("demo", "gw-west").event(kind), body.to_json()).stored


def test_nobody_requests_their_own_dossier_nor_approves_a_relatives_nor_their_own_request(app, published):
    kim, ann, bob = client_of(app, "kim"), client_of(app, "ann"), client_of(app, "bob")
    page = post(kim, "/loans/", codes="DA-2026-00001", purpose="review", days="7")
    assert "申请被拒绝：nobody may request their own dossier or a relative&#39;s (DA-2026-00001: self)" in page
    assert audited(app, "loan_request_refused")[0][:2] == ("kim", "DA-2026-00001")
    assert "not in the register: DA-404" in post(kim, "/loans/", codes="DA-404", purpose="review")
    assert "the period must be 1 to 14 days" in post(kim, "/loans/", codes="DA-2026-00003", purpose="x", days="30")
    post(kim, "/loans/", codes="DA-2026-00003 DA-2026-00004", purpose="promotion review")
    assert "DA-2026-00004 is requested or on loan already (request 1)" in post(
        bob, "/loans/", codes="DA-2026-00004", purpose="audit"
    )
    assert "nobody may approve a loan of their own dossier or a relative" in post(ann, "/loans/1/approve")
    assert kim.post("/loans/1/approve", data={"csrf_token": "x"}).status_code == 403  # keepers do not approve
    post(bob, "/loans/", codes="DA-2026-00005", purpose="audit")
    assert "nobody decides their own request" in post(bob, "/loans/2/approve")
    assert published.sent == []


def test_an_approved_loan_reaches_every_gateway_retained_and_is_checked_out_returned_and_counted(app, published):
    kim, bob = client_of(app, "kim"), client_of(app, "bob")
    post(kim, "/loans/", codes="DA-2026-00004", purpose="promotion review", days="3")
    assert "申请 1 已批准" in post(bob, "/loans/1/approve")
    assert [(topic, retained) for topic, _, retained in published.sent] == [
        ("storeroom/demo/gw-east/cmd/loans", True), ("storeroom/demo/gw-west/cmd/loans", True)
    ]  # fmt: skip
    loans = published.sent[0][1]["loans"]
    assert [(g["loan"], g["code"], g["borrower"], g["out"]) for g in loans] == [(1, "DA-2026-00004", "kim", False)]
    with Store(app.config["DATABASE"]) as store:
        event(store, 1, "dossier_checked_out", code="DA-2026-00004", loan=1, borrower="kim", due=loans[0]["due"])
        assert client_of(app, "ann").get("/api/dossiers/DA-2026-00004").json["state"] == "on_loan"
        assert 'data-state="out"' in kim.get("/loans/").get_data(as_text=True)
        event(store, 2, "dossier_returned", code="DA-2026-00004", loan=1)
    assert "确认归还" in kim.get("/loans/").get_data(as_text=True)
    assert "已归还，共 41 页" in post(kim, "/loans/1/return/DA-2026-00004", pages="41")
    assert published.sent[-1][1]["loans"] == []  # closed: nothing may leave any more
    assert audited(app, "loan_return_confirmed") == [
        ("kim", "loan/1", {"code": "DA-2026-00004", "pages": 41, "expected": None})
    ]
    page = kim.get("/loans/").get_data(as_text=True)
    assert "已全部归还" in page and "41 页" in page
    records = client_of(app, "ann").get("/api/dossiers/DA-2026-00004").json["records"]
    assert [(r["what"], r["detail"]) for r in records] == [("returned", ""), ("checked_out", "kim")]


@pytest.mark.slow
def test_a_dossier_at_the_door_without_a_checkout_raises_the_alarm_with_the_broker_down_and_it_arrives_later(
    tmp_path,
):
    from dashboard.alerts import active
    from dashboard.ingest import Ingest
    from gateway.service import GatewayService
    from hardware.broker import Broker, ensure_passwords
    from hardware.clock import SimClock, WallClock
    from hardware.config import load
    from rfid.keys import signing_key
    from rfid.sim_keeper import SimulatedKeeper
    from tests.support import wait_until, write_site
    from tests.test_gateway_service import queued, running

    path = write_site(tmp_path / "site")
    path.write_text(path.read_text().replace("tag_scans_per_hour = 20.0", "tag_scans_per_hour = 0.0"))
    site = load(path)
    ensure_passwords(site)
    with Broker(site, port=0) as broker:
        broker.start()
        ingest = Ingest(site, site.dashboard_database, host=broker.host, port=broker.port, username="dashboard",
                        password=broker.password("dashboard"))  # fmt: skip
        ingest.start()
        assert ingest.wait_ready(10)
        east = GatewayService(site, "gw-east", password=broker.password("gw-east"), broker_port=broker.port,
                              clock=SimClock(1))  # fmt: skip
        try:
            with running(east):
                assert east.link.wait_connected(10)
                broker.stop()
                keeper = SimulatedKeeper(east.readers, WallClock(), *signing_key(site), 0, "test keeper")
                (door,) = [r for r in keeper.readers if r.config.id == "east-door"]
                keeper._lay(door, keeper.cards[4], (1.0, 1.0))  # DA-2026-00005, never approved nor checked out
                (alarm,) = wait_until(lambda: queued(east, "event/unauthorised_removal"), what="the door's alarm")
                assert (alarm["severity"], alarm["data"]["code"]) == ("alarm", "DA-2026-00005")
                broker.start()

                def alerted() -> list:
                    with sqlite3.connect(site.dashboard_database) as db:
                        return [a for a in active(db) if a["kind"] == "unauthorised_removal"]

                (alert,) = wait_until(alerted, timeout=60, what="the alarm at the dashboard")
                assert alert["message"] == "dossier DA-2026-00005 at the door without a checkout"
        finally:
            ingest.stop()


def test_a_return_counted_short_of_the_digitized_pages_is_flagged(app, published):
    kim, bob = client_of(app, "kim"), client_of(app, "bob")
    with Store(app.config["DATABASE"]) as store:
        for page in (1, 2, 3):  # the dossier's three pages, as the copy stand's `page` events left them
            store.db.conn.execute(
                "INSERT INTO pages (site, dossier, page, gateway, seq, ts, received, captured, device, dpi, qc_ok,"
                " checks, files) VALUES ('demo', 'DA-2026-00004', ?, 'gw-west', ?, 't', 't', 't', 'sim', 300, 1,"
                " '{}', '{}')",
                (page, 100 + page),
            )
        store.db.conn.commit()
        post(kim, "/loans/", codes="DA-2026-00004", purpose="promotion review", days="3")
        post(bob, "/loans/1/approve")
        loans = published.sent[0][1]["loans"]
        event(store, 1, "dossier_checked_out", code="DA-2026-00004", loan=1, borrower="kim", due=loans[0]["due"])
        event(store, 2, "dossier_returned", code="DA-2026-00004", loan=1)
    post(kim, "/loans/1/return/DA-2026-00004", pages="2")
    assert audited(app, "loan_return_confirmed")[0][2] == {"code": "DA-2026-00004", "pages": 2, "expected": 3}
