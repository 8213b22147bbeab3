"""The gateway's climate control: one value per room, and a hygrostat that neither flaps nor guesses."""

from __future__ import annotations

import itertools

from gateway.climate import combine
from gateway.hygrostat import Hygrostat
from hardware.config import Climate, Control
from sensors.climate import ClimateSample

OK = "ok"


def test_a_room_value_is_the_median_of_its_usable_sensors():
    room = combine(
        {
            "a": ClimateSample(20.0, 50.0, OK),
            "b": ClimateSample(21.0, 52.0, OK),
            "c": ClimateSample(35.0, 90.0, "degraded"),
            "d": ClimateSample(None, None, "failed", "Checksum did not validate. Try again."),
        }
    )
    assert (room.temperature_c, room.humidity_rh) == (21.0, 52.0)
    assert room.used == ("a", "b", "c")


def test_a_room_without_usable_sensors_has_no_value():
    room = combine({"a": ClimateSample(None, None, "failed", "no response")})
    assert room.humidity_rh is None and room.used == ()


def hygrostat(units=("d1",), **control: object) -> Hygrostat:
    """A 45-60 % RH hygrostat (hysteresis 3) whose units may start at once (their last stop long ago)."""
    h = Hygrostat(Climate(control=Control(**control)), list(units), now=-10_000.0)
    return h


def run(h: Hygrostat, steps: list[tuple[float, float | None]], **tanks: bool) -> list[dict[str, bool]]:
    """The units' states after each (time, humidity) step."""
    return [h.step(t, rh, tanks).units for t, rh in steps]


def test_the_hygrostat_starts_near_the_top_of_the_band_and_stops_below_the_hysteresis():
    h = hygrostat(min_on_s=0, min_off_s=0)  # 45-60 % RH: on above 58, off below 55
    states = run(h, [(i * 60.0, rh) for i, rh in enumerate((55, 58, 58.5, 57, 55.5, 54.9, 56))])
    assert [s["d1"] for s in states] == [False, False, True, True, True, False, False]


def test_in_a_narrow_band_the_start_margin_shrinks_to_fit():
    h = hygrostat(start_below_top_rh=2.0)
    h.set_band(50.0, 54.0)  # 4 % RH wide, hysteresis 3: half a percent left for the margin
    assert (h.on_above, h.off_below) == (53.5, 50.5)


def test_a_compressor_never_runs_or_rests_shorter_than_its_minimum():
    h = hygrostat(min_on_s=600, min_off_s=300)
    # Humidity hovers around the switching points every 30 s: the unit may not follow it.
    steps = [(i * 30.0, 62.0 if (i // 3) % 2 == 0 else 52.0) for i in range(200)]
    states = [s["d1"] for s in run(h, steps)]
    changes = [0] + [i for i in range(1, len(states)) if states[i] != states[i - 1]]
    runs = [(states[a], steps[b][0] - steps[a][0]) for a, b in itertools.pairwise(changes)]  # the last is unfinished
    assert len(runs) > 10
    assert min(d for on, d in runs if on) >= 600 and min(d for on, d in runs if not on) >= 300


def test_after_a_restart_every_unit_counts_as_just_stopped():
    h = Hygrostat(Climate(), ["d1"], now=0.0)
    assert h.step(10.0, 70.0).units == {"d1": False}
    assert h.step(300.0, 70.0).units == {"d1": True}


def test_several_units_start_one_at_a_time():
    h = hygrostat(units=("d1", "d2", "d3"), stagger_s=60)
    starts = {}
    for t in range(0, 300, 5):
        for unit, on in h.step(float(t), 70.0).units.items():
            if on:
                starts.setdefault(unit, t)
    assert sorted(starts.values()) == [0, 60, 120]


def test_a_full_tank_stops_its_unit_at_once_and_the_others_go_on():
    h = hygrostat(units=("d1", "d2"), stagger_s=0)
    assert h.step(0.0, 70.0).units == {"d1": True, "d2": True}
    decision = h.step(30.0, 70.0, {"d1": True})  # well inside its minimum run time
    assert decision.units == {"d1": False, "d2": True} and decision.tank_full == ["d1"]
    assert h.step(400.0, 70.0, {"d1": False}).units == {"d1": True, "d2": True}  # emptied and rested


def test_a_unit_that_does_not_lower_humidity_is_stopped_and_tried_again_later():
    h = hygrostat(ineffective_after_s=3600, ineffective_drop_rh=1.0, lockout_s=1800, min_off_s=0)
    h.step(0.0, 70.0)
    assert h.step(1800.0, 69.5).units == {"d1": True}
    decision = h.step(3600.0, 69.6)
    assert decision.units == {"d1": False} and decision.ineffective == ["d1"]
    assert h.step(5000.0, 70.0).units == {"d1": False}  # still locked out
    assert h.step(5400.0, 70.0).units == {"d1": True}


def test_a_unit_that_dried_the_room_before_a_door_let_damp_in_is_not_ineffective():
    h = hygrostat(ineffective_after_s=6 * 3600)
    drying = [(t * 60.0, 66.0 - t * 0.05) for t in range(120)]  # two hours pulling 66 down to 60
    flooded = [(7200 + t * 60.0, 60.0 + min(t, 60) * 0.5) for t in range(300)]  # a door left open: up to 90
    decisions = [h.step(t, rh) for t, rh in drying + flooded]
    assert not any(d.ineffective for d in decisions)


def test_a_unit_that_works_is_never_called_ineffective():
    h = hygrostat(ineffective_after_s=3600)
    steps = [(t * 60.0, 75.0 - t * 0.1) for t in range(120)]  # 6 % RH an hour down
    decisions = [h.step(t, rh) for t, rh in steps]
    assert not any(d.ineffective for d in decisions)


def test_without_a_usable_humidity_the_room_goes_to_its_fail_safe_state():
    for fail_safe, expected in (("off", False), ("on", True), ("hold", True)):
        h = hygrostat(fail_safe=fail_safe, min_on_s=0, min_off_s=0)
        h.step(0.0, 70.0)
        decision = h.step(60.0, None)
        assert decision.fail_safe and decision.units == {"d1": expected}, fail_safe


def test_a_long_run_is_reported_while_the_unit_keeps_running():
    h = hygrostat(max_run_s=3600)
    h.step(0.0, 70.0)
    assert h.step(3000.0, 65.0).long_run == []
    decision = h.step(3700.0, 64.0)
    assert decision.long_run == ["d1"] and decision.units == {"d1": True}


def test_an_override_replaces_the_demand_until_it_expires():
    h = hygrostat(min_on_s=0, min_off_s=0)
    h.set_override("on", until=600.0)
    decision = h.step(0.0, 50.0)
    assert decision.units == {"d1": True} and decision.override == "on"
    assert h.step(599.0, 50.0).units == {"d1": True}
    assert h.step(600.0, 50.0).units == {"d1": False}  # expired: back to the hygrostat
    h.set_override("off", until=1200.0)
    assert h.step(700.0, 75.0).units == {"d1": False}


def test_an_idle_unit_runs_now_and_then_when_keepalive_is_set():
    h = Hygrostat(Climate(control=Control(keepalive_every_h=1, keepalive_run_s=600, min_on_s=0)), ["d1"], now=0.0)
    states = [(t, h.step(float(t), 50.0).units["d1"]) for t in range(0, 3 * 3600, 60)]
    starts = [t for (t, on), (_, was) in zip(states[1:], states, strict=False) if on and not was]
    assert starts == [3600, 3600 + 600 + 3600]
    assert sum(on for _, on in states) * 60 == 2 * 600
