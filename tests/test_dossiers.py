"""Finding a dossier and where it is: the location tree from the config, the register's homes, search by code,
name, pinyin and catalogue fields with typos forgiven, the dossier page (audited), and nobody seeing their own."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from dashboard.app import create_app
from dashboard.store import Store
from dashboard.users import Users, connect
from hardware.config import ConfigError, from_dict, load
from tests.support import DEMO, add_user, login
from tests.tracking_support import Reads, import_register


@pytest.fixture
def app(site):
    app = create_app(site)
    report = import_register(site, app.config["DATABASE"])
    assert (report.added, len(report.refused)) == (6, 0)
    for name, role in (("ann", "archivist"), ("kim", "keeper"), ("fatima", "facilities")):
        add_user(app.config["DATABASE"], name, role)
    return app


@pytest.fixture
def ann(app):
    client = app.test_client()
    login(client, "ann")
    return client


def codes(client, **query) -> list[str]:
    answer = client.get("/api/dossiers", query_string=query)
    assert answer.status_code == 200, answer.json
    return [hit["code"] for hit in answer.json["hits"]]


def link(app, user: str, code: str, relation: str) -> None:
    from dashboard import relations

    conn = connect(app.config["DATABASE"])
    relations.link(conn, user_id=Users(conn).get(user).id, code=code, relation=relation, by="test")
    conn.close()


# -- the location tree and the register's homes ------------------------------------------------------


def test_a_home_that_is_no_shelf_of_the_site_is_imported_without_a_home_and_said(site, tmp_path):
    report = import_register(site, tmp_path / "db.sqlite")
    assert report.unplaced == [
        {"line": 7, "code": "DA-2026-00006", "reason": "'nowhere/shelf' is not a shelf or box of the site"}
    ]
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        homes = dict(db.execute("SELECT code, home_shelf FROM dossiers").fetchall())
    assert homes["DA-2026-00002"] == "east-stack/r1-A-1-1" and homes["DA-2026-00006"] is None
    again = import_register(site, tmp_path / "db.sqlite")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 6)


def _plans(**row) -> dict:
    import tomllib

    raw = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    raw["tracking"]["plans"][0]["rows"][0].update(row)
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x_m": 11.0}, "tracking.plans[0].rows[r1]: the row does not fit in the room's plan"),
        ({"id": "R1"}, "tracking.plans[0].rows[0].id: String should match pattern"),
        ({"sides": ["C"]}, "tracking.plans[0].rows[0].sides[0]: Input should be 'A' or 'B'"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as refused:
        from_dict(_plans(**change), tmp_path / "site.toml")
    assert message in str(refused.value)


def test_a_plan_for_a_room_the_site_does_not_have_is_refused(tmp_path):
    raw = _plans()
    raw["tracking"]["plans"][0]["room"] = "cellar"
    with pytest.raises(ConfigError, match=r"tracking.plans\[0\].room: 'cellar' is not one of the stack rooms"):
        from_dict(raw, tmp_path / "site.toml")


def test_a_code_pattern_without_its_fields_is_refused(tmp_path):
    raw = _plans()
    raw["tracking"]["code_pattern"] = "{unit}-{month}-{seq}"
    with pytest.raises(ConfigError, match=r"tracking.code_pattern: cannot be filled"):
        from_dict(raw, tmp_path / "site.toml")


# -- search ---------------------------------------------------------------------------------------------


def test_pinyin_initials_full_pinyin_name_and_code_find_the_dossier(ann):
    assert codes(ann, q="zs") == ["DA-2026-00001", "DA-2026-00005"]  # 张三 exactly, then 张珊珊 (zss)
    assert codes(ann, q="zss") == ["DA-2026-00005"]
    assert codes(ann, q="zhangsan") == ["DA-2026-00001"]
    assert codes(ann, q="zhangshan") == ["DA-2026-00005"]
    assert codes(ann, q="张") == ["DA-2026-00001", "DA-2026-00005"]
    assert codes(ann, q="da-2026-00003") == codes(ann, q="DA 2026 00003") == ["DA-2026-00003"]
    assert codes(ann, q="shantianfang") == codes(ann, q="dantianfang") == ["DA-2026-00006"]  # 单: both readings


def test_typos_are_forgiven_only_when_nothing_matches_as_typed(ann):
    answer = ann.get("/api/dossiers", query_string={"q": "zhnagsan"}).json["hits"]
    assert [(h["code"], h["fuzzy"]) for h in answer] == [("DA-2026-00001", True)]
    assert codes(ann, q="DA-2026-0O004") == ["DA-2026-00004"]  # a letter O for a zero
    assert codes(ann, q="xyzxyzxyz") == []


def test_catalogue_fields_units_and_filters_combine(ann):
    assert codes(ann, q="1981-05") == ["DA-2026-00002"]
    assert codes(ann, q="人事处") == ["DA-2026-00001", "DA-2026-00003", "DA-2026-00005"]
    assert codes(ann, q="z", unit="人事处", room="east-stack") == ["DA-2026-00001"]
    assert codes(ann, unit="人事处", room="west-stack") == ["DA-2026-00005"]
    assert codes(ann, **{"field.出生年月": "1975-11"}) == ["DA-2026-00003"]
    assert codes(ann, q="张 人事") == ["DA-2026-00001", "DA-2026-00005"]


def test_suggestions_while_typing_and_bad_requests(ann):
    answer = ann.get("/api/dossiers/suggest", query_string={"q": "wang"}).json
    wang = {"code": "DA-2026-00003", "name": "王五", "unit": "人事处", "home": "east-stack/r1-A-1-2",
            "matched": "pinyin", "fuzzy": False}  # fmt: skip
    assert answer == {"suggestions": [wang]}
    assert ann.get("/api/dossiers?q=" + "x" * 201).status_code == 400
    assert ann.get("/api/dossiers?q=z&limit=0").json["message"] == "limit: a whole number from 1 to 200"


def test_only_keepers_and_archivists_search_dossiers(app):
    client = app.test_client()
    assert client.get("/api/dossiers?q=zs").status_code == 401
    login(client, "fatima")
    assert client.get("/api/dossiers?q=zs").status_code == 403
    assert client.get("/dossiers/DA-2026-00001").status_code == 403


# -- the dossier page -------------------------------------------------------------------------------------


def test_the_dossier_page_shows_home_plan_and_state_and_the_view_is_audited(app, ann):
    page = ann.get("/dossiers/DA-2026-00002").get_data(as_text=True)
    assert 'data-field="state">在架' in page
    assert "east-stack/r1-A-1-1/box-2" in page and "box-2" in page
    assert 'class="column home" data-shelf="east-stack/r1-A-1-1"' in page
    assert 'id="dossier-pages"' in page
    with sqlite3.connect(app.config["DATABASE"]) as db:
        assert db.execute("SELECT actor, object FROM audit WHERE action = 'dossier_viewed'").fetchall() == [
            ("ann", "DA-2026-00002")
        ]
    assert ann.get("/dossiers/DA-404").status_code == 404


def test_where_a_dossier_was_last_seen_follows_the_location_tag_read_before_it(app, ann, site):
    with Store(app.config["DATABASE"]) as store:
        reads = Reads(store, site)
        reads.read("east-shelf", "east-stack/r2-B-3-4", kind="location", ago_s=30)
        reads.read("east-shelf", "DA-2026-00001", ago_s=20)  # home r1-A-1-1: on the wrong shelf
        reads.read("east-shelf", "DA-2026-00004", ago_s=10)  # at home
        reads.read("desk", "DA-2026-00003")
        reads.read("desk", None, valid=False)
    wrong = ann.get("/api/dossiers/DA-2026-00001").json
    assert (wrong["state"], wrong["last_seen"]["place"]) == ("misplaced", "east-stack/r2-B-3-4")
    assert ann.get("/api/dossiers/DA-2026-00004").json["state"] == "on_shelf"
    desk = ann.get("/api/dossiers/DA-2026-00003").json
    assert (desk["state"], desk["last_seen"]["place_kind"], len(desk["history"])) == ("at_desk", "desk", 1)
    page = ann.get("/dossiers/DA-2026-00001").get_data(as_text=True)
    assert 'class="column seen" data-shelf="east-stack/r2-B-3-4"' in page and "错架" in page


def test_nobody_finds_or_opens_their_own_or_a_relatives_dossier(app, ann):
    link(app, "ann", "DA-2026-00001", "self")
    link(app, "ann", "DA-2026-00005", "spouse")
    assert codes(ann, q="zhang") == []
    assert ann.get("/api/dossiers/suggest?q=zs").json == {"suggestions": []}
    refused = ann.get("/dossiers/DA-2026-00005")
    assert refused.status_code == 403 and "任何人不得查阅本人或亲属的档案" in refused.get_data(as_text=True)
    assert ann.get("/api/dossiers/DA-2026-00001").status_code == 403
    kim = app.test_client()
    login(kim, "kim")
    assert codes(kim, q="zhang") == ["DA-2026-00001", "DA-2026-00005"]
    with sqlite3.connect(app.config["DATABASE"]) as db:
        refusals = db.execute("SELECT actor, object, detail FROM audit WHERE action = 'dossier_refused'").fetchall()
    assert [(a, o, json.loads(d)) for a, o, d in refusals] == [
        ("ann", "DA-2026-00005", {"relation": "spouse"}), ("ann", "DA-2026-00001", {"relation": "self"})
    ]  # fmt: skip


# -- the command line ----------------------------------------------------------------------------------------


def storeroom(site, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "storeroom", "dashboard", *args, "--config", str(site.source)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_register_import_places_dossiers_and_names_homes_it_cannot_place(site, tmp_path):
    from tests.tracking_support import REGISTER

    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")
    answer = storeroom(site, "register", "import", str(path))
    assert "added 6, updated 0, unchanged 0, refused 0" in answer.stdout
    assert answer.stderr.strip() == (
        "line 7: DA-2026-00006 imported without a home: 'nowhere/shelf' is not a shelf or box of the site"
    )


def test_user_link_and_next_code_on_the_command_line(site, tmp_path):
    import_register(load(site.source), site.dashboard_database)
    add_user(site.dashboard_database, "wang", "archivist")
    answer = storeroom(site, "user", "link", "wang", "DA-2026-00004", "--relation", "parent")
    assert answer.stdout.strip() == "wang: parent of DA-2026-00004"
    assert storeroom(site, "user", "link", "wang", "DA-1", "--relation", "cousin").stderr.strip() == (
        "storeroom: relation 'cousin' is not one of self, spouse, parent, child, sibling, relative"
    )
    assert storeroom(site, "user", "link", "nobody", "DA-1").stderr.strip() == "storeroom: no user 'nobody'"
    assert storeroom(site, "register", "next-code", "--unit", "DA", "--year", "2026").stdout.strip() == (
        "DA-2026-00007"
    )
    assert storeroom(site, "register", "next-code", "--unit", "D" * 40).returncode == 1
    assert storeroom(site, "register", "reindex").stdout.strip() == "6 dossiers indexed"


def test_the_answers_follow_the_api_document(app, ann):
    import jsonschema

    from tests.test_openapi import schema_of

    for path, url in (
        ("/api/dossiers", "/api/dossiers?q=zs"),
        ("/api/dossiers/suggest", "/api/dossiers/suggest?q=wang"),
        ("/api/dossiers/{code}", "/api/dossiers/DA-2026-00002"),
    ):
        jsonschema.validate(ann.get(url).json, schema_of(path, "200"))


def test_the_modules_examples_hold():
    import doctest

    import dashboard.codes
    import dashboard.floorplan
    import dashboard.locations
    import dashboard.relations
    import hardware.shelving

    for module in (dashboard.codes, dashboard.floorplan, dashboard.locations, dashboard.relations, hardware.shelving):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_the_locations_command_lists_every_tag_code_for_enrolment(site):
    lines = storeroom(site, "locations").stdout.splitlines()
    assert lines[0] == "code,kind,place"
    assert "east-stack,location,room" in lines and "east-stack/r3-B-4-5,location,shelf" in lines
    assert "desk,location,desk" in lines
    assert len(lines) == 1 + 2 + 5 + 120 + 30 + 3  # header, rooms, rows, shelves east and west, points


def test_admins_link_users_to_person_records_in_the_web_ui_and_the_link_bars_the_dossier(app, ann):
    from tests.support import csrf_token

    add_user(app.config["DATABASE"], "amy", "admin")
    amy = app.test_client()
    login(amy, "amy")
    token = csrf_token(amy.get("/relations/").get_data(as_text=True))
    form = {"csrf_token": token, "user": "ann", "code": "DA-2026-00004", "relation": "child"}
    page = amy.post("/relations/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "ann 已关联到 DA-2026-00004" in page and '<tr data-user="ann" data-code="DA-2026-00004">' in page
    assert "赵六" not in page  # codes only: the administrator manages links, not dossiers
    assert ann.get("/dossiers/DA-2026-00004").status_code == 403
    bad = amy.post("/relations/", data={"csrf_token": token, "user": "ann", "code": "X", "relation": "cousin"},
                   follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "未关联：relation &#39;cousin&#39; is not one of" in bad
    amy.post("/relations/remove", data={"csrf_token": token, "user": "ann", "code": "DA-2026-00004"})
    assert ann.get("/dossiers/DA-2026-00004").status_code == 200
    assert ann.get("/relations/").status_code == 403
    with sqlite3.connect(app.config["DATABASE"]) as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit WHERE action LIKE 'person_%' ORDER BY id")]
    assert actions == ["person_linked", "person_unlinked"]
