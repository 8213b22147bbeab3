"""Climate control on the accelerated simulated storeroom: the scenarios `storeroom sim run` ships, checked.

Each runs the gateways' real controllers (driver, sampler, hygrostat, alarms) against the simulated world
for hours or a week of simulated time, and reads the report as anyone checking from outside would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hardware.config import DEMO_CONFIG, load
from storeroom.scenarios import SCENARIOS, run

HOUR = 3600.0
MIN_ON_S, MIN_OFF_S = 600.0, 300.0  # the config's defaults


@pytest.fixture(scope="module")
def demo():
    return load(DEMO_CONFIG)


def alarms(room: dict, kind: str) -> list[dict]:
    return [a for a in room["alarms"] if a["kind"] == kind]


@pytest.fixture(scope="module")
def humid_week(demo):
    return run(demo, SCENARIOS["humid-summer"], 168)


def test_a_humid_week_keeps_humidity_in_the_band_most_of_the_time(humid_week):
    for room_id, room in humid_week["rooms"].items():
        assert room["share_in_band"] >= 0.8, room_id
        assert len(room["series"]) == 168 * 6 + 1  # every 10 minutes
        assert room["run_hours"] > 24  # and the dehumidifiers did the work


def test_no_relay_cycle_is_shorter_than_the_compressors_minimum(humid_week):
    for room in humid_week["rooms"].values():
        assert len(room["relay_transitions"]) > 20
        assert room["min_on_s"] >= MIN_ON_S and room["min_off_s"] >= MIN_OFF_S


def test_a_dying_sensor_drives_the_fail_safe_and_an_alarm_within_a_bounded_time(demo):
    report = run(demo, SCENARIOS["sensor-failure"], 14)
    east, west = report["rooms"]["east-stack"], report["rooms"]["west-stack"]
    # East: unplugged at 6 h. Stale (and so not used for control) after 60 s, failed after 300 s.
    (fail_safe, *_) = alarms(east, "climate_fail_safe")
    assert 6 * HOUR < fail_safe["raised_s"] <= 6 * HOUR + 60 + 2 * 30 + 7.5
    assert fail_safe["cleared_s"] is not None and 9 * HOUR <= fail_safe["cleared_s"] <= 9 * HOUR + 120
    assert alarms(east, "sensor_failed")[0]["raised_s"] <= 6 * HOUR + 300 + 2 * 30 + 7.5
    during = [t for t in east["relay_transitions"] if 6 * HOUR < t["t_s"] < 9 * HOUR]
    assert all(not t["on"] for t in during)  # fail-safe "off": nothing starts while the room is blind
    # West: hangs at 12 h, repeating one frame; found out within the stuck time (30 min) and a read.
    (stuck, *_) = alarms(west, "sensor_failed")
    assert 12 * HOUR + 1800 <= stuck["raised_s"] <= 12 * HOUR + 1800 + 60
    assert "stopped measuring" in stuck["message"]


def test_a_full_tank_stops_the_unit_until_a_keeper_empties_it(demo):
    report = run(demo, SCENARIOS["tank-full"], 24)
    for room in report["rooms"].values():
        (full, *_) = alarms(room, "dehumidifier_tank_full")
        stops = [t for t in room["relay_transitions"] if t["reason"] == "tank full"]
        assert stops and not stops[0]["on"] and abs(stops[0]["t_s"] - full["raised_s"]) < 60
        assert full["cleared_s"] - full["raised_s"] == pytest.approx(3 * HOUR, abs=120)


def test_a_door_held_open_does_not_make_the_units_flap(demo):
    report = run(demo, SCENARIOS["door-left-open"], 12)
    east = report["rooms"]["east-stack"]
    while_open = [t for t in east["relay_transitions"] if 4 * HOUR <= t["t_s"] <= 6 * HOUR]
    assert len(while_open) <= 2
    # A run may end only by its minimum or by a safety stop (a full tank), which the report keeps apart.
    assert east["min_on_s"] is None or east["min_on_s"] >= MIN_ON_S
    assert east["min_off_s"] >= MIN_OFF_S
    assert alarms(east, "humidity_high")  # two hours of summer air: somebody must know


def test_the_same_seed_gives_the_same_report(demo):
    first = run(demo, SCENARIOS["dry-winter"], 6, seed=11)
    assert run(demo, SCENARIOS["dry-winter"], 6, seed=11) == first
    assert run(demo, SCENARIOS["dry-winter"], 6, seed=12) != first


def test_the_command_writes_the_report_in_the_documented_shape(tmp_path):
    report = tmp_path / "report.json"
    command = ["sim", "run", "--scenario", "door-left-open", "--hours", "5", "--report", str(report)]
    answer = subprocess.run(
        [sys.executable, "-m", "storeroom", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stderr
    assert "east-stack:" in answer.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["scenario"] == "door-left-open" and data["hours"] == 5.0
    for room in data["rooms"].values():
        assert 0.0 <= room["share_in_band"] <= 1.0
        assert {"min_on_s", "min_off_s", "relay_transitions", "alarms", "series"} <= set(room)
        assert all(set(t) >= {"t_s", "unit", "on"} for t in room["relay_transitions"])
        assert all(set(a) >= {"kind", "raised_s", "cleared_s"} for a in room["alarms"])
        assert all(set(p) == {"t_s", "temperature_c", "rh_pct"} for p in room["series"])


def test_every_shipped_scenario_is_listed():
    answer = subprocess.run([sys.executable, "-m", "storeroom", "sim", "list"], capture_output=True, text=True)
    names = [line.split()[0] for line in answer.stdout.splitlines()]
    assert names == [
        "humid-summer", "dry-winter", "sensor-failure", "door-left-open", "tank-full",
        "two-person-entry", "after-hours", "door-held-open", "forced-door", "broker-down-entry",
    ]  # fmt: skip
