"""Door access on the accelerated simulated storeroom: the scenarios `storeroom sim run` ships for the
badge doors, read from their reports' `events` as anyone checking from outside would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hardware.config import DEMO_CONFIG, load
from storeroom.scenarios import SCENARIOS, run

HOUR = 3600.0


@pytest.fixture(scope="module")
def demo():
    return load(DEMO_CONFIG)


def access(report: dict) -> list[tuple[str | None, str]]:
    return [(e.get("holder"), e["reason"]) for e in report["events"] if e["kind"] == "access"]


def alarms(report: dict, kind: str) -> list[tuple[float, str]]:
    return [(e["t_s"], e["reason"]) for e in report["events"] if e["kind"] == kind]


def test_two_person_entry(demo):
    report = run(demo, SCENARIOS["two-person-entry"], 3)
    assert access(report) == [
        ("keeper", "waiting_second_person"),  # alone: the door stays locked
        ("keeper", "waiting_second_person"),
        ("archivist", "granted"),
        (None, "exit_button"),
        ("visitor-1", "visitor_needs_staff"),
        ("keeper", "waiting_second_person"),
        ("archivist", "granted"),
        (None, "exit_button"),
        ("facilities", "waiting_second_person"),
        ("admin", "granted"),
        ("facilities", "exit"),
        ("admin", "exit"),
    ]
    grants = [e for e in report["events"] if e["kind"] == "access" and e["reason"] == "granted"]
    assert [g["with"] for g in grants] == ["keeper", "visitor-1,keeper", "facilities"]
    opened = [e["t_s"] for e in report["events"] if e["kind"] == "door" and e["reason"] == "opened"]
    assert len(opened) == 6  # three entries, three exits (each party leaves together)
    assert not [e for e in report["events"] if e["severity"] == "alarm"]


def test_after_hours(demo):
    report = run(demo, SCENARIOS["after-hours"], 3)
    assert access(report) == [
        ("keeper", "waiting_second_person"),
        ("archivist", "granted"),
        (None, "exit_button"),
        ("keeper", "outside_hours"),
        ("archivist", "outside_hours"),
        ("facilities", "waiting_second_person"),
    ]
    refused = next(e for e in report["events"] if e["reason"] == "outside_hours")
    assert "08:00-18:00" in refused["message"]


def test_door_held_open(demo):
    report = run(demo, SCENARIOS["door-held-open"], 1)
    opened = next(e["t_s"] for e in report["events"] if e["kind"] == "door" and e["reason"] == "opened")
    (raised, cleared) = alarms(report, "door_held_open")
    assert raised == (opened + 60.0, "raised") and cleared == (opened + 300.0, "cleared")
    assert not alarms(report, "door_forced")


def test_forced_door(demo):
    report = run(demo, SCENARIOS["forced-door"], 2)
    assert access(report) == [(None, "unknown_badge")]
    assert alarms(report, "door_tamper") == [(0.4 * HOUR, "raised"), (1.0 * HOUR, "cleared")]
    forced = alarms(report, "door_forced")
    assert forced[0] == (0.5 * HOUR, "raised") and forced[1][1] == "cleared"
    assert [e["severity"] for e in report["events"] if e["kind"] == "door_forced"] == ["alarm", "info"]


def test_broker_down_entry_enforces_permissions_and_delivers_the_log_afterwards(demo):
    report = run(demo, SCENARIOS["broker-down-entry"], 3)
    during = [e for e in report["events"] if 0.5 * HOUR <= e["t_s"] < 2 * HOUR]
    assert [(e.get("holder"), e["reason"]) for e in during if e["kind"] == "access"] == [
        ("keeper", "waiting_second_person"),
        ("archivist", "granted"),
        (None, "exit_button"),
        (None, "unknown_badge"),
        ("facilities", "waiting_second_person"),
        ("admin", "granted"),
        (None, "exit_button"),
    ]
    assert all(e["sent_s"] == 2 * HOUR and e["historical"] for e in during)
    before = [e for e in report["events"] if e["t_s"] < 0.5 * HOUR]
    assert before and all(e["sent_s"] == e["t_s"] and not e["historical"] for e in before)


def test_the_report_written_by_the_command_has_the_events(tmp_path):
    report = tmp_path / "doors.json"
    command = [sys.executable, "-m", "storeroom", "sim", "run", "--scenario", "door-held-open", "--hours", "0.5"]
    answer = subprocess.run([*command, "--report", str(report)], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    events = json.loads(report.read_text(encoding="utf-8"))["events"]
    assert events and all({"t_s", "kind", "room", "reason"} <= set(e) for e in events)
    assert all(isinstance(e["t_s"], float) and isinstance(e["reason"], str) for e in events)
