"""The dossier register, imported from the CSVs Chinese spreadsheets produce, and scans checked against it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta

from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from tests.support import add_user, login

GBK_REGISTER = (
    "档号,姓名,单位,出生年月\n"
    "DA-1,张三,人事处,1970-01\n"
    "DA-2,李四,财务处,\n"
    ",王五,人事处,\n"
    "DA-1,赵六,人事处,\n"
    "DA-3,,人事处,\n"
)


def register(site, path, *extra: str) -> subprocess.CompletedProcess:
    command = ["dashboard", "register", "import", str(path), "--config", str(site.source), *extra]
    return subprocess.run([sys.executable, "-m", "storeroom", *command], capture_output=True, text=True, timeout=60)


def dossiers(site) -> dict[str, tuple]:
    with sqlite3.connect(site.dashboard_database) as db:
        return {code: (name, unit, json.loads(fields)) for code, name, unit, fields in db.execute(
            "SELECT code, name, unit, fields FROM dossiers")}  # fmt: skip


def test_a_gb18030_register_with_chinese_headers_imports_its_good_rows_and_names_the_rest(site, tmp_path):
    path = tmp_path / "register.csv"
    path.write_bytes(GBK_REGISTER.encode("gb18030"))
    answer = register(site, path)
    assert answer.returncode == 0, answer.stderr
    assert "added 2, updated 0, unchanged 0, refused 3 (gb18030)" in answer.stdout
    assert answer.stderr.splitlines() == [
        "line 4: the code is empty", "line 5: code DA-1 appears twice in this file", "line 6: name is empty"
    ]  # fmt: skip
    assert dossiers(site)["DA-1"] == ("张三", "人事处", {"出生年月": "1970-01"})
    with sqlite3.connect(site.dashboard_database) as db:
        (detail,) = db.execute("SELECT detail FROM audit WHERE action = 'register_import'").fetchone()
    assert json.loads(detail) == {"added": 2, "updated": 0, "unchanged": 0, "refused": 3, "encoding": "gb18030"}


def test_a_second_import_updates_what_changed_and_a_dry_run_changes_nothing(site, tmp_path):
    path = tmp_path / "register.csv"
    path.write_bytes("\ufeffcode,name,unit\nDA-1,张三,人事处\nDA-2,李四,财务处\n".encode())
    register(site, path)
    path.write_bytes("\ufeffcode,name,unit\nDA-1,张三,办公室\nDA-2,李四,财务处\nDA-9,钱七,档案室\n".encode())
    assert "would add 1, updated 1, unchanged 1" in register(site, path, "--dry-run").stdout
    assert set(dossiers(site)) == {"DA-1", "DA-2"}
    assert "added 1, updated 1, unchanged 1, refused 0 (utf-8-sig)" in register(site, path).stdout
    assert dossiers(site)["DA-1"][1] == "办公室"


def test_a_file_without_a_code_column_is_refused_whole(site, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("姓名,单位\n张三,人事处\n", encoding="utf-8")
    answer = register(site, path)
    assert answer.returncode == 2 and "no code column (code / 档号 / 编号)" in answer.stderr


def test_scans_of_dossiers_the_register_does_not_know_are_flagged(site, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("code,name,unit\nDA-1,张三,人事处\n", encoding="utf-8")
    register(site, path)
    app = create_app(site)
    add_user(app.config["DATABASE"], "kim", "keeper")
    with Store(app.config["DATABASE"]) as store:
        for seq, code in ((1, "DA-1"), (2, "DA-404")):
            data = {"reader": "desk", "location": "desk", "uid": f"0{seq}", "valid": True, "kind": "dossier",
                    "code": code, "reason": None, "detail": ""}  # fmt: skip
            ts = protocol.utc_now() - timedelta(seconds=10 - seq)
            event = protocol.Event(id=f"t{seq}", seq=seq, ts=ts, kind="tag_read", device="desk", data=data)
            store.ingest(protocol.Topics("demo", "gw-west").event("tag_read"), event.to_json())
    client = app.test_client()
    login(client, "kim")
    assert {s["code"]: s["registered"] for s in client.get("/api/scans").json["scans"]} == {
        "DA-1": True, "DA-404": False
    }  # fmt: skip
    page = client.get("/scans/").get_data(as_text=True)
    assert '<tr class="unknown" data-uid="02">' in page and "不在档案名册中" in page
