"""The gateway's climate control: one value per room, and a hygrostat that neither flaps nor guesses."""

from __future__ import annotations

from gateway.climate import Hygrostat, combine
from hardware.config import Climate
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


def test_the_hygrostat_starts_above_the_band_and_stops_below_the_hysteresis():
    hygrostat = Hygrostat(Climate())  # 45-60 % RH, hysteresis 3
    assert [hygrostat.decide(rh) for rh in (55, 60, 60.5, 59, 57.5, 56.9, 58)] == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
    ]


def test_the_hygrostat_holds_its_decision_when_the_room_has_no_reading():
    hygrostat = Hygrostat(Climate())
    hygrostat.decide(65)
    assert hygrostat.decide(None) is True
