"""Recent tag scans on the dashboard: newest first, an invalid tag flagged with its reason in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from tests.support import add_user, login

EAST = protocol.Topics("demo", "gw-east")


@pytest.fixture
def app(site):
    app = create_app(site)
    add_user(app.config["DATABASE"], "kim", "keeper")
    with Store(app.config["DATABASE"]) as store:
        for seq, ago, valid, code, reason in (
            (1, 120, True, "DA-2026-00001", None),
            (2, 60, False, None, "bad_mac"),
            (3, 10, True, "DA-2026-00002", None),
        ):
            data = {"reader": "east-shelf", "location": "east-stack/shelf-1", "uid": f"04A1B2C{seq}",
                    "valid": valid, "kind": "dossier" if valid else None, "code": code, "reason": reason,
                    "detail": ""}  # fmt: skip
            event = protocol.Event(
                id=f"t{seq}", seq=seq, ts=protocol.utc_now() - timedelta(seconds=ago), kind="tag_read",
                device="east-shelf", data=data,
            )  # fmt: skip
            store.ingest(EAST.event("tag_read"), event.to_json())
    return app


def test_scans_come_newest_first_with_invalid_ones_flagged(app):
    client = app.test_client()
    login(client, "kim")
    scans = client.get("/api/scans").json["scans"]
    assert [s["code"] for s in scans] == ["DA-2026-00002", None, "DA-2026-00001"]
    assert [s["valid"] for s in scans] == [True, False, True] and scans[1]["reason"] == "bad_mac"
    page = client.get("/scans/").get_data(as_text=True)
    assert '<tr class="invalid" data-uid="04A1B2C2">' in page
    assert "伪造或从其他标签复制" in page  # the reason, in the keeper's words
    assert "DA-2026-00002" in page and "档案" in page


def test_scans_need_a_login(app):
    assert app.test_client().get("/scans/").status_code in (302, 401)
    assert app.test_client().get("/api/scans").status_code == 401
