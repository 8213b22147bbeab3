"""The board: where pins come from, chosen once, and the gpiozero devices of one gateway's rooms.

As in gpiozero itself, a device never asks which pins it got: `pin_factory()` picks real pins on a Pi
(lgpio, which also drives a Pi 5; RPi.GPIO before it) or gpiozero's mock pins for the simulated
storeroom, and every device is built on that one factory, passed explicitly (never gpiozero's global
`Device.pin_factory`, which would leak between gateways and tests in one process).
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from hardware.config import Hardware, Room

T = TypeVar("T")

REAL_FACTORIES = (("gpiozero.pins.lgpio", "LGPIOFactory"), ("gpiozero.pins.rpigpio", "RPiGPIOFactory"))
"""Tried in this order on a Pi: lgpio works on every model (and is the only one on a Pi 5)."""


class BoardError(RuntimeError):
    """The pins of this machine cannot be used."""


def pin_factory(hardware: Hardware) -> Factory:
    """gpiozero's MockFactory for `sim`; the real lgpio or RPi.GPIO factory for `pi`, imported only then.

    Off a Pi the real libraries are missing or raise on import (RPi.GPIO does), so nothing of them is
    imported unless the config asks for real pins.
    """
    if hardware.backend == "sim":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    errors = []
    for module, name in REAL_FACTORIES:
        try:
            return getattr(importlib.import_module(module), name)()
        except Exception as exc:  # ImportError off a Pi, RuntimeError for an unknown SoC, ...
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise BoardError(
        "hardware.backend = 'pi' but no GPIO library works here ("
        + "; ".join(errors)
        + "). On a Pi install the `pi` extra (on a Pi 5: rpi-lgpio, never RPi.GPIO beside it)."
    )


class DoorContact(DigitalInputDevice):
    """A door's reed contact on a GPIO with the Pi's pull-up: it shorts the pin to ground while the door is
    shut, so the device is active ("pressed", as a gpiozero Button says) while the door is shut.

    A Button in all the ways the gateway uses one, without the hold thread a door has no use for (and which
    makes closing a pressed Button wait a second).
    """

    def __init__(self, pin: int, *, pin_factory: Factory) -> None:
        super().__init__(pin, pull_up=True, pin_factory=pin_factory)

    is_shut = is_pressed = DigitalInputDevice.is_active
    when_shut = when_pressed = DigitalInputDevice.when_activated
    when_opened = when_released = DigitalInputDevice.when_deactivated


class Board:
    """The relays, tank-full switches and door contacts of some rooms, as gpiozero devices on one pin factory.
    Relays start off."""

    def __init__(self, rooms: list[Room], factory: Factory) -> None:
        self._relays: dict[tuple[str, str], DigitalOutputDevice] = {}
        self._doors: dict[tuple[str, str], DoorContact] = {}
        self._tanks: dict[tuple[str, str], DigitalInputDevice] = {}
        try:
            for room in rooms:
                for relay in room.relays:
                    self._relays[room.id, relay.id] = DigitalOutputDevice(
                        relay.pin, active_high=relay.active_high, initial_value=False, pin_factory=factory
                    )
                    if relay.tank_full_pin is not None:
                        # The float switch closes to ground when the tank is full: active while low.
                        self._tanks[room.id, relay.id] = DigitalInputDevice(
                            relay.tank_full_pin, pull_up=True, pin_factory=factory
                        )
                for door in room.doors:
                    self._doors[room.id, door.id] = DoorContact(door.contact_pin, pin_factory=factory)
        except Exception:
            self.close()  # release the pins already claimed: a half-built board holds nothing
            raise

    def relay(self, room_id: str, relay_id: str) -> DigitalOutputDevice:
        return _find(self._relays, room_id, relay_id, "relay")

    def door(self, room_id: str, door_id: str) -> DoorContact:
        return _find(self._doors, room_id, door_id, "door")

    def tank_full(self, room_id: str, relay_id: str) -> bool:
        """True while the unit's tank-full switch is closed; False for a unit without one (drained by a hose)."""
        tank = self._tanks.get((room_id, relay_id))
        return bool(tank and tank.is_active)

    def close(self) -> None:
        """Release every pin; relays go back to inputs, which leaves relay modules off."""
        for device in [*self._relays.values(), *self._doors.values(), *self._tanks.values()]:
            device.close()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _find(devices: dict[tuple[str, str], T], room_id: str, device_id: str, kind: str) -> T:
    try:
        return devices[room_id, device_id]
    except KeyError:
        known = sorted(f"{r}/{d}" for r, d in devices)
        raise KeyError(f"no {kind} {room_id}/{device_id} on this board (has {known})") from None
