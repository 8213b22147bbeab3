"""The simulated storeroom behaves like a room: weather, doors and dehumidifiers move its air.

The tests drive the world and its pins from outside, through the same gpiozero devices the gateway uses.
"""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.board import Board
from hardware.clock import ManualClock, SimClock
from hardware.config import load
from hardware.world import World, absolute_humidity, relative_humidity
from tests.support import write_site

DAY = 24 * 3600.0


@pytest.fixture
def east(tmp_path):
    """The demo's east stack on its own pins and a clock that moves only when told."""
    site = load(write_site(tmp_path, door_openings_per_hour=0.0))
    room = site.rooms_of("gw-east")
    factory = MockFactory()
    clock = ManualClock()
    world = World(room, site.hardware.sim, clock, factory)
    board = Board(room, factory)
    world.drive_pins()
    yield world, board, clock
    board.close()


def humidity_after(world: World, clock: ManualClock, seconds: float) -> float:
    clock.advance(seconds)
    return world.climate("east-stack")[1]


def test_magnus_round_trip():
    assert relative_humidity(20.0, absolute_humidity(20.0, 55.0)) == pytest.approx(55.0)
    assert absolute_humidity(20.0, 100.0) == pytest.approx(17.3, abs=0.1)  # tables: 17.3 g/m³ at 20 °C


def test_a_shut_room_drifts_towards_the_humid_summer_outside(east):
    world, _, clock = east
    start = world.climate("east-stack")[1]
    assert humidity_after(world, clock, DAY) > start + 1.0


def test_a_running_dehumidifier_pulls_humidity_down(east):
    world, board, clock = east
    board.relay("east-stack", "dehum-1").on()
    assert world.dehumidifiers_running("east-stack") == ["dehum-1"]
    start = world.climate("east-stack")[1]
    assert humidity_after(world, clock, 6 * 3600) < start - 3.0


def test_an_open_door_lets_damp_air_in_faster_than_a_shut_one(tmp_path, east):
    world, _, clock = east
    shut_gain = humidity_after(world, clock, 600) - world.climate("east-stack")[1]
    before = world.climate("east-stack")[1]
    world.open_door("east-stack", "main-door")
    open_gain = humidity_after(world, clock, 600) - before
    assert open_gain > shut_gain + 1.0


def test_temperature_follows_the_daily_swing_outside_with_lag(east):
    world, _, clock = east
    temperatures = [world.climate("east-stack")[0]]
    for _ in range(48):
        clock.advance(3600)
        temperatures.append(world.climate("east-stack")[0])
    assert max(temperatures) > temperatures[0]  # the room warms towards a 28 °C summer
    assert max(temperatures) - min(temperatures) < 10  # but thick walls damp the daily swing


def test_door_contacts_read_through_gpiozero(east):
    world, board, _ = east
    contact = board.door("east-stack", "main-door")
    opened = threading.Event()
    contact.when_released = opened.set
    assert contact.is_pressed  # shut: the reed contact pulls the pin to ground
    world.open_door("east-stack", "main-door")
    assert opened.is_set()
    assert not contact.is_pressed
    world.close_door("east-stack", "main-door")
    assert contact.is_pressed


def test_people_open_doors_at_about_the_configured_rate_the_same_way_every_run(tmp_path):
    def openings(seed_folder) -> list[float]:
        site = load(write_site(seed_folder, door_openings_per_hour=6.0))
        clock = ManualClock()
        factory = MockFactory()
        world = World(site.rooms_of("gw-east"), site.hardware.sim, clock, factory)
        seen, was_open = [], False
        for _ in range(int(DAY / 30)):
            clock.advance(30)
            now_open = world.door_is_open("east-stack", "main-door")
            if now_open and not was_open:
                seen.append(clock.time())
            was_open = now_open
        return seen

    first = openings(tmp_path / "a")
    assert 100 < len(first) < 190  # 6 an hour over a day = 144
    assert [t - first[0] for t in first] == [t - first[0] for t in openings(tmp_path / "b")]


def test_the_sim_clock_runs_faster_than_the_wall():
    clock = SimClock(speed=1000)
    start = clock.time()
    time.sleep(0.05)
    assert clock.time() - start > 10
