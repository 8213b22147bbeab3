"""The board: where pins come from, chosen once, and the gpiozero devices of one gateway's rooms.

As in gpiozero itself, a device never asks which pins it got: `pin_factory()` picks real pins on a Pi
(lgpio, which also drives a Pi 5; RPi.GPIO before it) or gpiozero's mock pins for the simulated
storeroom, and every device is built on that one factory.
"""

from __future__ import annotations

from gpiozero import Button, DigitalOutputDevice
from gpiozero.pins import Factory

from hardware.config import Hardware, Room


class BoardError(RuntimeError):
    """The pins of this machine cannot be used."""


def pin_factory(hardware: Hardware) -> Factory:
    """gpiozero's MockFactory for `sim`; the real lgpio or RPi.GPIO factory for `pi`, imported only then."""
    if hardware.backend == "sim":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    errors = []
    for module, name in (("gpiozero.pins.lgpio", "LGPIOFactory"), ("gpiozero.pins.rpigpio", "RPiGPIOFactory")):
        try:
            factory_class = getattr(__import__(module, fromlist=[name]), name)
            return factory_class()
        except Exception as exc:  # ImportError off a Pi, RuntimeError for an unknown SoC, ...
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise BoardError(
        "hardware.backend = 'pi' but no GPIO library works here ("
        + "; ".join(errors)
        + "). On a Pi install the `pi` extra (on a Pi 5: rpi-lgpio, never RPi.GPIO beside it)."
    )


class Board:
    """The relays and door contacts of some rooms, as gpiozero devices on one pin factory."""

    def __init__(self, rooms: list[Room], factory: Factory) -> None:
        self._relays: dict[tuple[str, str], DigitalOutputDevice] = {}
        self._doors: dict[tuple[str, str], Button] = {}
        try:
            for room in rooms:
                for relay in room.relays:
                    self._relays[room.id, relay.id] = DigitalOutputDevice(
                        relay.pin, active_high=relay.active_high, initial_value=False, pin_factory=factory
                    )
                for door in room.doors:
                    # The reed contact shorts the pin to ground while the door is shut: "pressed" = shut.
                    self._doors[room.id, door.id] = Button(door.contact_pin, pull_up=True, pin_factory=factory)
        except Exception:
            self.close()
            raise

    def relay(self, room_id: str, relay_id: str) -> DigitalOutputDevice:
        return self._relays[room_id, relay_id]

    def door(self, room_id: str, door_id: str) -> Button:
        return self._doors[room_id, door_id]

    def close(self) -> None:
        for device in [*self._relays.values(), *self._doors.values()]:
            device.close()
