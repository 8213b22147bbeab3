"""The audit trail's head anchored outside the database: cutting off the newest rows is caught and named."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from dashboard import audit_anchor
from dashboard.audit import record
from dashboard.users import connect
from storeroom.cli import main


def storeroom(*args: str):
    return CliRunner().invoke(main, list(args))


def add_rows(site, count: int) -> None:
    conn = connect(site.dashboard_database, migrate_schema=True)
    for i in range(count):
        record(conn, actor="cli:test", action="user_added", obj=f"user-{i}", detail={"role": "keeper"})
    conn.close()


@pytest.fixture
def anchored(site):
    """A trail of five rows, its head anchored by `storeroom audit anchor`."""
    add_rows(site, 5)
    answer = storeroom("audit", "anchor", "--config", str(site.source))
    assert answer.exit_code == 0, answer.output
    assert "audit head anchored: row 5 " in answer.output
    return site


def test_an_anchored_trail_verifies_up_to_its_anchor(anchored):
    add_rows(anchored, 2)  # rows after the anchor are fine: they chain to it
    answer = storeroom("audit", "verify", "--config", str(anchored.source))
    assert answer.exit_code == 0, answer.output
    assert "audit trail intact: 7 rows checked, up to the anchor of row 5" in answer.output


@pytest.mark.parametrize(("kept", "where"), [(3, "id > 3"), (4, "id = 5"), (0, "1")], ids=["two", "one", "all"])
def test_deleting_the_newest_rows_is_caught_and_named(anchored, kept, where):
    with sqlite3.connect(anchored.dashboard_database) as db:
        db.execute(f"DELETE FROM audit WHERE {where}")
    answer = storeroom("audit", "verify", "--config", str(anchored.source))
    assert answer.exit_code == 1
    assert f"audit trail broken: rows after id {kept} are missing: the anchor of " in answer.output
    assert "names row 5" in answer.output


def test_newest_rows_cut_off_and_written_anew_are_caught(anchored):
    with sqlite3.connect(anchored.dashboard_database) as db:
        db.execute("DELETE FROM audit WHERE id > 3")
    add_rows(anchored, 2)  # rows 4 and 5 again, chained properly, but not the rows that were anchored
    answer = storeroom("audit", "verify", "--config", str(anchored.source))
    assert answer.exit_code == 1
    assert "row 5 is not the row anchored at" in answer.output


def test_a_trail_without_an_anchor_verifies_and_says_so(site):
    add_rows(site, 2)
    answer = storeroom("audit", "verify", "--config", str(site.source))
    assert answer.exit_code == 0
    assert "audit trail intact: 2 rows checked; no anchor yet" in answer.output


def test_anchoring_again_adds_a_line_only_when_the_head_moved(anchored):
    path = audit_anchor.anchors_file(anchored)
    storeroom("audit", "anchor", "--config", str(anchored.source))
    assert len(path.read_text().splitlines()) == 1
    add_rows(anchored, 1)
    storeroom("audit", "anchor", "--config", str(anchored.source))
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [5, 6]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_damaged_anchor_line_is_skipped_and_the_last_good_one_counts(anchored, caplog):
    path = audit_anchor.anchors_file(anchored)
    with path.open("a") as out:
        out.write('{"id": 99, "hash": "short"}\nnot json at all\n')
    with sqlite3.connect(anchored.dashboard_database) as db:
        db.execute("DELETE FROM audit WHERE id = 5")
    answer = storeroom("audit", "verify", "--config", str(anchored.source))
    assert answer.exit_code == 1
    assert "rows after id 4 are missing" in answer.output and "names row 5" in answer.output
    assert "is not an anchor" in caplog.text


def test_an_empty_trail_has_nothing_to_anchor(site):
    connect(site.dashboard_database, migrate_schema=True).close()
    answer = storeroom("audit", "anchor", "--config", str(site.source))
    assert answer.exit_code == 0
    assert "nothing to anchor" in answer.output
    assert not audit_anchor.anchors_file(site).exists()


def test_the_serving_dashboard_anchors_the_head_it_leaves(site):
    add_rows(site, 3)
    path = audit_anchor.anchors_file(site)
    anchoring = audit_anchor.Anchoring(site.dashboard_database, path, every_s=3600)
    anchoring.start()
    anchoring.stop()
    assert audit_anchor.latest(path).id == 3
