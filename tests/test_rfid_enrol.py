"""Enrolment: a code written onto the tag on the reader and read back; never over another code unless forced."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rfid.cards import ClassicCard, NtagCard
from rfid.enrol import EnrolError, enrol
from rfid.reader import TagRead
from rfid.sim_reader import simulated_reader

KEY = bytes(range(32))
OTHER_SITE = bytes(range(100, 132))
CARDS = [lambda: ClassicCard(bytes.fromhex("A1B2C3D4")), lambda: NtagCard(bytes.fromhex("04112233445566"))]
"""Fresh blank cards for each test."""


@pytest.fixture
def desk():
    reader, field, _ = simulated_reader("desk", "desk", {1: KEY}, 1)
    return reader, field


@pytest.mark.parametrize("card", CARDS, ids=["classic", "ntag"])
def test_a_blank_tag_is_enrolled_and_reads_back(desk, card):
    reader, field = desk
    card = card()
    field.enter(card)
    done = enrol(reader, "DA-2026-00042", "dossier", 1, KEY)
    assert (done.code, done.replaced, done.unchanged) == ("DA-2026-00042", None, False)
    assert done.uid == card.uid.hex().upper()
    field.leave(card), field.enter(card)
    assert [e.code for e in reader.poll() if isinstance(e, TagRead)] == ["DA-2026-00042"]


@pytest.mark.parametrize("card", CARDS, ids=["classic", "ntag"])
def test_a_tag_holding_another_code_is_refused_saying_what_it_holds_unless_forced(desk, card):
    reader, field = desk
    field.enter(card())
    enrol(reader, "DA-2026-00001", "dossier", 1, KEY)
    with pytest.raises(EnrolError, match="already holds dossier DA-2026-00001; use --force"):
        enrol(reader, "DA-2026-00002", "dossier", 1, KEY)
    assert enrol(reader, "DA-2026-00001", "dossier", 1, KEY).unchanged
    done = enrol(reader, "DA-2026-00002", "dossier", 1, KEY, force=True)
    assert done.replaced == "DA-2026-00001"


def test_a_tag_locked_by_another_site_cannot_be_enrolled(desk):
    reader, field = desk
    theirs, _, _ = simulated_reader("theirs", "elsewhere", {1: OTHER_SITE}, 1, device=1, reset_pin=24)
    card = NtagCard(bytes.fromhex("04998877665544"))
    field.enter(card)
    enrol(reader, "X-1", "dossier", 1, KEY)  # written and locked by us ...
    field.leave(card)
    other_field = theirs.device.spi.chip.field
    other_field.enter(card)
    with pytest.raises(EnrolError, match="writing failed: page 4"):
        enrol(theirs, "Y-2", "dossier", 1, OTHER_SITE, force=True)  # ... so another site cannot take it over


def test_no_tag_on_the_reader_says_what_to_do(desk):
    reader, _ = desk
    with pytest.raises(EnrolError, match="no tag on the reader"):
        enrol(reader, "DA-2026-00001", "dossier", 1, KEY)


# -- the command line (on the simulated board it lays a blank tag itself) ---------------------------


def storeroom(site, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "storeroom", "rfid", "enroll", *args, "--config", str(site.source)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_command_enrols_one_code(site):
    answer = storeroom(site, "DA-2026-00042", "--reader", "desk")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("enrolled dossier DA-2026-00042 on tag ")


def test_a_batch_reports_refused_rows_and_resumes_where_it_stopped(site, tmp_path):
    batch = tmp_path / "dossiers.csv"
    batch.write_bytes(
        "code,kind,name\nDA-1,dossier,张三\n,dossier,李四\nR1-A-03,shelf,\n档号-7,location,\n".encode("gb18030")
    )
    first = storeroom(site, "--csv", str(batch), "--reader", "east-shelf")
    assert first.returncode == 0, first.stderr
    assert "line 3: the code is empty" in first.stderr and "line 4: kind 'shelf'" in first.stderr
    assert "2 enrolled, 2 rows refused" in first.stdout
    done = (tmp_path / "dossiers.csv.enrolled").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in done] == ["DA-1", "档号-7"]
    again = storeroom(site, "--csv", str(batch))
    assert "4 rows, 2 enrolled before, 2 to do" in again.stderr and "0 enrolled" in again.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "give either a CODE or --csv FILE"),
        (("A1", "--reader", "nowhere"), "no reader 'nowhere' in the config"),
        (("A" * 40,), "not enrolled: the code takes 40 bytes"),
    ],
)
def test_the_command_refuses_in_one_line(site, args, says):
    answer = storeroom(site, *args)
    assert answer.returncode == 2 and says in answer.stderr and "Traceback" not in answer.stderr
