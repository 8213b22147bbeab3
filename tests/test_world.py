"""The simulated storeroom behaves like a room: weather, doors and dehumidifiers move its air.

The tests drive the world from outside, and switch its dehumidifiers through the same gpiozero devices
the gateway uses. Each builds its site from the demo config, changed where the test says.
"""

from __future__ import annotations

import itertools
import threading
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.board import Board
from hardware.clock import ManualClock, SimClock
from hardware.config import SiteConfig, from_dict
from hardware.sim import simulated_site
from hardware.world import World, absolute_humidity, dehumidifier_extraction_l_per_day, relative_humidity

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
HOUR, DAY = 3600.0, 24 * 3600.0
ROOM, DOOR, DEHUMIDIFIER = "east-stack", "main-door", "dehum-1"


def demo_site(
    *, door_openings_per_hour: float = 0.0, weather: dict | None = None, room: dict | None = None, seed: int = 7
) -> SiteConfig:
    """The demo site, with doors left shut unless asked, and its weather and east stack changed as given."""
    raw = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    sim = raw["hardware"]["sim"]
    sim["door_openings_per_hour"] = door_openings_per_hour
    sim["seed"] = seed
    sim["weather"].update(weather or {})
    east = next(r for r in raw["rooms"] if r["id"] == ROOM)
    east["sim"].update(room or {})
    return from_dict(raw, Path("site.toml"))


class Storeroom:
    """The east stack's gateway pins and the world behind them, on a clock the test moves by hand."""

    def __init__(self, site: SiteConfig) -> None:
        self.clock = ManualClock()
        factory, self.world = simulated_site(site, "gw-east", self.clock)
        self.board = Board(site.rooms_of("gw-east"), factory)

    def after(self, seconds: float) -> tuple[float, float]:
        """(temperature, humidity) of the east stack once `seconds` have passed."""
        self.clock.advance(seconds)
        return self.world.climate(ROOM)

    @property
    def humidity(self) -> float:
        return self.world.climate(ROOM)[1]

    def dehumidifier_on(self) -> None:
        self.board.relay(ROOM, DEHUMIDIFIER).on()


@pytest.fixture
def storerooms():
    """Make as many independent storerooms as a test compares; their devices are closed afterwards."""
    made: list[Storeroom] = []

    def make(site: SiteConfig | None = None) -> Storeroom:
        made.append(Storeroom(site or demo_site()))
        return made[-1]

    yield make
    for storeroom in made:
        storeroom.board.close()


# -- air and water ------------------------------------------------------------------------------


def test_relative_and_absolute_humidity_agree_with_the_tables():
    assert absolute_humidity(20.0, 100.0) == pytest.approx(17.3, abs=0.2)  # 17.3 g/m³ saturates air at 20 °C
    assert absolute_humidity(30.0, 100.0) == pytest.approx(30.4, abs=0.2)
    assert relative_humidity(20.0, absolute_humidity(20.0, 55.0)) == pytest.approx(55.0)
    # The same water is a lower RH in warmer air.
    assert relative_humidity(25.0, absolute_humidity(20.0, 55.0)) == pytest.approx(41.3, abs=0.2)


def test_a_dehumidifier_extracts_its_rated_capacity_only_at_its_rating_point():
    assert dehumidifier_extraction_l_per_day(20.0, 30.0, 80.0) == pytest.approx(20.0)
    assert 8 < dehumidifier_extraction_l_per_day(20.0, 27.0, 60.0) < 12  # published curves: about half
    assert dehumidifier_extraction_l_per_day(20.0, 20.0, 60.0) < 8
    assert dehumidifier_extraction_l_per_day(20.0, 20.0, 30.0) == 0.0


# -- weather and leakage --------------------------------------------------------------------------


def test_a_shut_room_drifts_towards_the_humid_summer_outside_over_a_day(storerooms):
    room = storerooms()
    temperature, humidity = room.world.climate(ROOM)
    water = absolute_humidity(temperature, humidity)
    outside_water = absolute_humidity(28.0, 82.0)  # the demo's summer: 28 °C, 82 % RH

    later_temperature, later_humidity = room.after(DAY)

    later_water = absolute_humidity(later_temperature, later_humidity)
    assert water < later_water < outside_water
    assert later_humidity > humidity + 5
    assert temperature < later_temperature < 28.0 + 5.0


def test_temperature_follows_the_outside_daily_swing_late_and_damped(storerooms):
    # The room starts at the outside's daily mean, so what is left after a day is the daily swing.
    room = storerooms(demo_site(room={"temperature_c": 28.0, "humidity_rh": 60.0}))
    room.after(2 * DAY)
    day = [(room.world.now, *room.after(0.25 * HOUR)) for _ in range(96)]

    warmest_at, _, _ = max(day, key=lambda sample: sample[1])
    local_hour = datetime.fromtimestamp(warmest_at, ZoneInfo("Asia/Shanghai")).hour
    assert 17 <= local_hour <= 23  # outside is warmest at 15:00; thick walls answer hours later
    swing = max(t for _, t, _ in day) - min(t for _, t, _ in day)
    assert 0.5 < swing < 5.0  # the outside swings 10 °C from night to afternoon
    assert swing < 2 * 2.0  # within JGJ 25's ±2 °C a day


def test_the_outside_is_warmest_in_the_afternoon_of_the_sites_time_zone(storerooms):
    world = storerooms().world
    afternoon = datetime(2026, 7, 1, 15, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    small_hours = datetime(2026, 7, 1, 3, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert world.outside(afternoon)[0] == pytest.approx(28.0 + 5.0)
    assert world.outside(small_hours)[0] == pytest.approx(28.0 - 5.0)
    # The outside air keeps its water: a cool night is a humid night.
    assert world.outside(small_hours)[1] > world.outside(afternoon)[1]


# -- doors ---------------------------------------------------------------------------------------


def test_an_open_door_lets_damp_air_in_faster_than_a_shut_one(storerooms):
    shut, propped = storerooms(), storerooms()
    before = shut.humidity
    propped.world.open_door(ROOM, DOOR)

    assert propped.after(10 * 60)[1] > shut.after(10 * 60)[1] + 10
    assert shut.humidity - before < 2


def test_a_short_opening_is_a_spike_that_the_paper_soaks_up(storerooms):
    shut, visited = storerooms(), storerooms()
    visited.world.open_door(ROOM, DOOR)
    visited.after(90)
    visited.world.close_door(ROOM, DOOR)
    spike = visited.humidity - shut.after(90)[1]

    shut.after(HOUR)
    visited.after(HOUR)
    left = visited.humidity - shut.humidity
    assert spike > 3  # what a sensor by the door sees at once
    assert left < spike / 2  # an hour later, most of it is in the paper


def test_an_undersized_dehumidifier_cannot_keep_up_with_a_propped_door(storerooms):
    room = storerooms()
    room.dehumidifier_on()
    before = room.humidity
    room.world.open_door(ROOM, DOOR)
    assert room.after(HOUR)[1] > before + 20


def test_people_open_doors_at_about_the_configured_rate(storerooms):
    room = storerooms(demo_site(door_openings_per_hour=6.0))
    openings = []
    room.board.door(ROOM, DOOR).when_released = lambda: openings.append(room.world.now)

    room.after(7 * DAY)

    assert len(openings) == pytest.approx(6 * 7 * 24, rel=0.1)
    between = [b - a for a, b in itertools.pairwise(openings)]
    assert min(between) > 30  # a door stays open at least half a minute before the next visitor


def test_the_same_seed_opens_the_same_doors_at_the_same_moments(storerooms):
    def openings(seed: int) -> list[float]:
        room = storerooms(demo_site(door_openings_per_hour=6.0, seed=seed))
        start, seen = room.world.now, []
        room.board.door(ROOM, DOOR).when_released = lambda: seen.append(room.world.now - start)
        room.after(DAY)
        return seen

    assert openings(7) == openings(7)
    assert openings(7) != openings(8)


def test_doors_move_on_time_while_the_world_follows_its_clock():
    site = demo_site(door_openings_per_hour=60.0)
    factory, world = simulated_site(site, "gw-east", SimClock(speed=3600))
    board = Board(site.rooms_of("gw-east"), factory)
    opened, closed = threading.Event(), threading.Event()
    board.door(ROOM, DOOR).when_released = opened.set
    board.door(ROOM, DOOR).when_pressed = closed.set
    world.start()
    try:
        assert opened.wait(10), "a visitor opens the door within a few simulated minutes"
        assert closed.wait(10), "and closes it behind them"
    finally:
        world.stop()
        board.close()


# -- dehumidifiers -------------------------------------------------------------------------------


def test_a_dehumidifier_takes_out_its_rated_capacity_in_rated_conditions(storerooms):
    rated = {"temperature_c": 30.0, "humidity_rh": 80.0}
    room = storerooms(demo_site(weather={**rated, "daily_swing_c": 0.0}, room=rated))
    room.dehumidifier_on()
    before = room.humidity

    room.after(HOUR)

    tank = room.world.water_removed_l(ROOM, DEHUMIDIFIER)
    assert tank == pytest.approx(50.0 / 24, rel=0.15)  # the east stack's unit: 50 L a day
    assert room.humidity < before - 3


def test_a_running_dehumidifier_pulls_a_damp_room_down(storerooms):
    damp = demo_site(room={"temperature_c": 24.0, "humidity_rh": 70.0})
    drying, left = storerooms(damp), storerooms(damp)
    drying.dehumidifier_on()
    assert drying.world.dehumidifiers_running(ROOM) == [DEHUMIDIFIER]
    assert left.world.dehumidifiers_running(ROOM) == []
    before = drying.humidity

    assert drying.after(6 * HOUR)[1] < before - 5
    assert left.after(6 * HOUR)[1] > before
    # In a 24 °C room it manages well under its rating (30 L a day at 30 °C / 80 %).
    assert 0.5 < drying.world.water_removed_l(ROOM, DEHUMIDIFIER) < 30.0 / 4


def test_a_dehumidifier_warms_the_room_it_dries(storerooms):
    drying, left = storerooms(), storerooms()
    drying.dehumidifier_on()
    assert drying.after(6 * HOUR)[0] > left.after(6 * HOUR)[0] + 0.5


def test_switching_the_relay_off_stops_the_drying(storerooms):
    room = storerooms()
    room.dehumidifier_on()
    room.after(HOUR)
    room.board.relay(ROOM, DEHUMIDIFIER).off()
    tank = room.world.water_removed_l(ROOM, DEHUMIDIFIER)
    room.after(HOUR)
    assert room.world.water_removed_l(ROOM, DEHUMIDIFIER) == tank


# -- time ----------------------------------------------------------------------------------------


def test_a_simulated_week_runs_in_one_call(storerooms):
    room = storerooms(demo_site(door_openings_per_hour=6.0))
    start = room.world.now
    room.world.advance(7 * DAY)
    assert room.world.now == start + 7 * DAY
    assert 0 < room.world.climate(ROOM)[1] <= 100


def test_the_world_never_runs_backwards():
    site = demo_site()
    clock = ManualClock()
    _, world = simulated_site(site, "gw-east", clock)
    world.advance(HOUR)
    ahead = world.climate(ROOM)  # the clock is an hour behind: the world waits for it
    assert world.climate(ROOM) == ahead
    assert world.now == clock.time() + HOUR


def test_the_sim_clock_runs_faster_than_the_wall():
    clock = SimClock(speed=1000, start=0.0)
    clock.sleep(50)  # 50 simulated seconds: 0.05 s of wall time
    assert clock.time() >= 50
    stop = threading.Event()
    stop.set()
    assert clock.wait(stop, 3600) is True  # a set event ends a wait at once


def test_a_manual_clock_moves_only_when_told():
    clock = ManualClock(start=1000.0)
    assert clock.time() == clock.time() == 1000.0
    clock.sleep(30)
    assert clock.time() == 1030.0
    assert clock.wait(threading.Event(), 10) is False
    assert clock.monotonic() == 1040.0


# -- sensors in the world ------------------------------------------------------------------------


def test_a_sensor_fault_is_set_healed_and_checked_against_the_known_faults(storerooms):
    world = storerooms().world
    world.unplug_sensor(ROOM, "dht-1")
    assert world.sensor_fault(ROOM, "dht-1") == "no_response"
    assert not world.sensor_connected(ROOM, "dht-1")
    world.plug_in_sensor(ROOM, "dht-1")
    assert world.sensor_fault(ROOM, "dht-1") is None
    with pytest.raises(ValueError, match="unknown sensor fault 'melted'"):
        world.set_sensor_fault(ROOM, "dht-1", "melted")


def test_asking_for_a_room_the_world_does_not_have_names_what_it_has():
    site = demo_site()
    world = World(site.rooms_of("gw-west"), site.hardware.sim, ManualClock(), MockFactory())
    with pytest.raises(KeyError, match=r"no room 'east-stack'.*west-stack"):
        world.climate(ROOM)


def test_an_outdoor_position_reads_the_weather(storerooms):
    site = demo_site()
    clock = ManualClock()
    _, world = simulated_site(site, "gw-west", clock)
    clock.advance(6 * HOUR)
    assert world.climate("outside") == world.outside()
    assert world.climate("west-stack") != world.outside()
