"""The board: gpiozero devices on pins chosen once, wired to the simulated storeroom as a Pi is to its room.

The tests switch relays and read doors through the gpiozero devices the gateway uses, and move the doors
and read the dehumidifiers through the simulated world: nothing reaches inside a device.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from gpiozero import Device, DigitalInputDevice, DigitalOutputDevice, GPIOPinInUse
from gpiozero.pins.mock import MockFactory

from hardware.board import Board, pin_factory
from hardware.clock import ManualClock
from hardware.config import Hardware, SiteConfig, from_dict
from hardware.sim import simulated_site
from hardware.world import World

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
ROOM, DOOR, DEHUMIDIFIER = "east-stack", "main-door", "dehum-1"
RELAY_PIN, CONTACT_PIN = 17, 27  # the demo's east stack


def demo_site(*, active_high: bool = True) -> SiteConfig:
    """The demo site with its doors left to the test, and the east stack's relay module as given."""
    raw = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    raw["hardware"]["sim"]["door_openings_per_hour"] = 0.0
    east = next(r for r in raw["rooms"] if r["id"] == ROOM)
    east["relays"][0]["active_high"] = active_high
    return from_dict(raw, Path("site.toml"))


@pytest.fixture
def east():
    """The east stack's gateway: its simulated world and its board, on the world's mock pins."""
    site = demo_site()
    factory, world = simulated_site(site, "gw-east", ManualClock())
    board = Board(site.rooms_of("gw-east"), factory)
    yield world, board, factory
    board.close()


# -- where pins come from ------------------------------------------------------------------------


def test_each_simulated_gateway_gets_its_own_mock_pins_and_gpiozeros_global_is_left_alone():
    before = Device.pin_factory
    first, second = pin_factory(Hardware(backend="sim")), pin_factory(Hardware(backend="sim"))
    assert isinstance(first, MockFactory) and isinstance(second, MockFactory)
    assert first is not second
    assert Device.pin_factory is before


def test_a_simulated_gateway_for_an_unknown_gateway_is_refused():
    with pytest.raises(ValueError, match="no gateway 'gw-north'"):
        simulated_site(demo_site(), "gw-north", ManualClock())


# -- relays --------------------------------------------------------------------------------------


def test_relays_start_off_and_the_dehumidifier_follows_its_relay(east):
    world, board, factory = east
    relay = board.relay(ROOM, DEHUMIDIFIER)
    assert not relay.value
    assert world.dehumidifiers_running(ROOM) == []

    relay.on()
    assert factory.pin(RELAY_PIN).state == 1
    assert world.dehumidifiers_running(ROOM) == [DEHUMIDIFIER]

    relay.off()
    assert world.dehumidifiers_running(ROOM) == []


def test_an_active_low_relay_module_runs_while_its_pin_is_low():
    site = demo_site(active_high=False)
    factory, world = simulated_site(site, "gw-east", ManualClock())
    with Board(site.rooms_of("gw-east"), factory) as board:
        assert factory.pin(RELAY_PIN).state == 1  # off: held high from the start, never a blip of "on"
        assert world.dehumidifiers_running(ROOM) == []
        board.relay(ROOM, DEHUMIDIFIER).on()
        assert factory.pin(RELAY_PIN).state == 0
        assert world.dehumidifiers_running(ROOM) == [DEHUMIDIFIER]


def test_closing_the_board_lets_go_of_the_relays_and_the_dehumidifiers_stop(east):
    world, board, _ = east
    board.relay(ROOM, DEHUMIDIFIER).on()
    board.close()
    assert world.dehumidifiers_running(ROOM) == []


# -- door contacts -------------------------------------------------------------------------------


def test_door_contacts_read_shut_and_open_through_gpiozero_with_callbacks(east):
    world, board, _ = east
    contact = board.door(ROOM, DOOR)
    seen: list[str] = []
    contact.when_released = lambda: seen.append("opened")
    contact.when_pressed = lambda: seen.append("shut")
    assert contact.is_pressed  # shut: the reed contact pulls the pin to ground

    world.open_door(ROOM, DOOR)
    assert not contact.is_pressed
    assert world.door_is_open(ROOM, DOOR)

    world.close_door(ROOM, DOOR)
    assert contact.is_pressed
    assert seen == ["opened", "shut"]


def test_a_shut_door_reads_shut_even_when_the_board_was_built_before_the_world():
    # gpiozero's pull-up drives a mock pin high as the device is made; the world puts the truth back.
    site = demo_site()
    factory = MockFactory()
    with Board(site.rooms_of("gw-east"), factory) as board:
        world = World(site.rooms_of("gw-east"), site.hardware.sim, ManualClock(), factory)
        world.drive_pins()
        assert board.door(ROOM, DOOR).is_pressed
        world.open_door(ROOM, DOOR)
        assert not board.door(ROOM, DOOR).is_pressed


def test_an_open_door_reads_open_on_a_board_built_afterwards():
    site = demo_site()
    factory, world = simulated_site(site, "gw-east", ManualClock())
    world.open_door(ROOM, DOOR)
    with Board(site.rooms_of("gw-east"), factory) as board:
        assert not board.door(ROOM, DOOR).is_pressed


# -- building and looking up ---------------------------------------------------------------------


def test_a_board_that_cannot_be_built_releases_the_pins_it_had_claimed():
    site = demo_site()
    factory = MockFactory()
    squatter = DigitalInputDevice(CONTACT_PIN, pin_factory=factory)  # something else holds the door's pin
    with pytest.raises(GPIOPinInUse):
        Board(site.rooms_of("gw-east"), factory)
    DigitalOutputDevice(RELAY_PIN, pin_factory=factory).close()  # the relay pin was given back
    squatter.close()


def test_looking_up_a_device_the_board_does_not_have_names_those_it_has(east):
    _, board, _ = east
    with pytest.raises(KeyError, match=r"no relay east-stack/fan-1 on this board.*east-stack/dehum-1"):
        board.relay(ROOM, "fan-1")
    with pytest.raises(KeyError, match=r"no door west-stack/main-door.*east-stack/main-door"):
        board.door("west-stack", DOOR)
