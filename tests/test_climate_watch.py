"""A room's climate alarms: raised after a delay, cleared with hysteresis, once each."""

from __future__ import annotations

from gateway.alarms import Alarms
from gateway.climate_watch import ClimateWatch
from hardware.config import Climate, ClimateAlarms

ROOM = "east-stack"


class Events(list):
    """Every event the alarms queue, as (kind, cleared)."""

    def __call__(self, kind: str, **fields: object) -> None:
        self.append((kind, bool(fields["data"].get("cleared")), fields))

    def of(self, kind: str) -> list[bool]:
        return [cleared for k, cleared, _ in self if k == kind]


def watch(**alarms: object) -> tuple[ClimateWatch, Events, list[float]]:
    events, now = Events(), [0.0]
    climate = Climate(alarms=ClimateAlarms(**alarms))
    return ClimateWatch(ROOM, climate, Alarms(events, lambda: now[0])), events, now


def feed(w: ClimateWatch, now: list[float], minutes: float, t: float, rh: float, every_s: float = 10.0) -> None:
    for _ in range(int(minutes * 60 / every_s)):
        now[0] += every_s
        w.update(now[0], t, rh)


def test_humidity_above_the_band_pages_only_after_the_delay():
    w, events, now = watch(delay_s=900)
    feed(w, now, 10, 20.0, 50.0)
    feed(w, now, 14, 20.0, 66.0)  # a door left open for 14 minutes
    assert events.of("humidity_high") == []
    feed(w, now, 10, 20.0, 50.0)
    feed(w, now, 16, 20.0, 66.0)
    assert events.of("humidity_high") == [False]
    raised = next(fields for kind, _, fields in events if kind == "humidity_high")
    assert raised["severity"] == "alarm" and raised["room"] == ROOM
    assert raised["data"] == {"value": 66.0, "limit": 60.0}


def test_a_value_hovering_at_the_limit_does_not_flap():
    w, events, now = watch(delay_s=60, hysteresis_rh=2.0)
    feed(w, now, 5, 20.0, 61.0)
    for i in range(200):  # between 58.5 and 61: never 2 % RH back inside
        now[0] += 10
        w.update(now[0], 20.0, 58.5 if i % 2 else 61.0)
    assert events.of("humidity_high") == [False]
    feed(w, now, 1, 20.0, 57.9)
    assert events.of("humidity_high") == [False, True]


def test_cold_and_dry_have_their_own_alarms():
    w, events, now = watch(delay_s=60)
    feed(w, now, 5, 12.0, 40.0)
    assert events.of("temperature_low") == [False] and events.of("humidity_low") == [False]
    assert events.of("temperature_high") == [] and events.of("humidity_high") == []


def test_a_daily_swing_beyond_five_percent_is_a_warning_and_a_short_spike_is_not():
    w, events, now = watch(delay_s=900)
    feed(w, now, 120, 20.0, 50.0)
    feed(w, now, 3, 20.0, 70.0)  # a door: three minutes of damp air, averaged away
    feed(w, now, 120, 20.0, 50.0)
    assert events.of("humidity_swing") == []
    feed(w, now, 120, 20.0, 56.0)  # a real drift of 6 % RH
    assert events.of("humidity_swing") == [False]
    assert next(f for k, _, f in events if k == "humidity_swing")["severity"] == "warning"
    feed(w, now, 26 * 60, 20.0, 56.0)  # a day later the spread is gone
    assert events.of("humidity_swing") == [False, True]


def test_condensation_risk_when_the_dew_point_nears_the_coldest_surface():
    # At 20 °C the coldest surface is about 17 °C; 80 % RH has its dew point at 16.4 °C, within 2 °C.
    w, events, now = watch(delay_s=60, surface_below_room_c=3.0, condensation_margin_c=2.0)
    feed(w, now, 30, 20.0, 55.0)  # dew point 10.7 °C
    assert events.of("condensation_risk") == []
    feed(w, now, 5, 20.0, 80.0)
    assert events.of("condensation_risk") == [False]


def test_mould_risk_follows_the_vtt_index():
    w, events, now = watch(mould_index=0.5)
    feed(w, now, 60 * 24 * 10, 25.0, 90.0, every_s=600)  # ten days of damp: index 0.40
    assert events.of("mould_risk") == []
    feed(w, now, 60 * 24 * 4, 25.0, 90.0, every_s=600)  # fourteen: 0.55
    assert events.of("mould_risk") == [False]
    assert 0.5 <= w.mould_index < 0.6


def test_without_a_usable_value_nothing_is_judged():
    w, events, now = watch(delay_s=60)
    for _ in range(100):
        now[0] += 10
        w.update(now[0], None, None)
    assert events == []
