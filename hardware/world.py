"""The simulated storeroom: rooms whose air follows the weather, doors people open, dehumidifiers that work.

It sits below the devices, where the real hardware would be: it reads each dehumidifier's relay from its
GPIO pin and drives each door's reed-contact pin, on gpiozero's mock pin factory. The gateway's gpiozero
devices therefore run exactly as on a Pi, and tests drive the world, never the code under test.

The physics is simple but honest enough that a controller can fail against it:
- Air holds water as absolute humidity (g/m³); relative humidity follows from it and the temperature by
  the Magnus formula, so a warming room gets drier in RH without losing water, as a real one does.
- Each room exchanges air with the outside at its leakage rate; an open door adds `DOOR_AIR_CHANGES`.
- Walls, shelving and the paper itself buffer moisture: changes of the air's water content are divided by
  `HYGRIC_BUFFER` (paper archives are strongly buffered; 10 is a plain, conservative choice).
- The room's temperature relaxes towards the outside with the building's thermal time constant.
- A dehumidifier removes water at its rated capacity, less at low humidity (compressor units are rated
  at 30 °C / 80 % RH and extract little below about 35 % RH), and warms the room a little.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from hardware.clock import Clock
from hardware.config import Room, Simulation

DOOR_AIR_CHANGES = 10.0
"""Extra air changes per hour while a door stands open."""
HYGRIC_BUFFER = 10.0
"""Effective moisture capacity of the room relative to its air alone."""
THERMAL_TIME_CONSTANT_H = 30.0
"""Hours for a thick-walled stack room to close 63 % of a gap to the outside temperature."""
DEHUMIDIFIER_HEAT_C_PER_H = 0.15
"""Warming by a 20 L/day unit in a 150 m³ room, scaled by capacity and volume."""
MAX_STEP_S = 30.0
DOOR_OPEN_S = (30.0, 150.0)


def saturation_vapour_pressure_hpa(temperature_c: float) -> float:
    """Magnus formula (WMO constants), good to 0.1 % between -45 and 60 °C."""
    return 6.112 * math.exp(17.62 * temperature_c / (243.12 + temperature_c))


def absolute_humidity(temperature_c: float, humidity_rh: float) -> float:
    """g of water per m³ of air."""
    vapour_hpa = saturation_vapour_pressure_hpa(temperature_c) * humidity_rh / 100.0
    return 216.7 * vapour_hpa / (temperature_c + 273.15)


def relative_humidity(temperature_c: float, absolute_g_m3: float) -> float:
    saturated = absolute_humidity(temperature_c, 100.0)
    return max(0.0, min(100.0, 100.0 * absolute_g_m3 / saturated))


@dataclass
class _Door:
    pin: int
    open: bool = False
    held: bool = False  # opened or closed by hand (tests, scenarios): the random visitors leave it alone
    closes_at: float = 0.0
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _Room:
    config: Room
    temperature_c: float
    water_g_m3: float
    doors: dict[str, _Door]


class World:
    """The simulated rooms of one gateway. `advance(seconds)` by hand, or `start()` to follow the clock."""

    def __init__(self, rooms: list[Room], sim: Simulation, clock: Clock, pins: MockFactory) -> None:
        self.sim = sim
        self.clock = clock
        self.pins = pins
        self._lock = threading.RLock()
        self._now = clock.time()
        self._rooms = {
            room.id: _Room(
                config=room,
                temperature_c=room.sim.temperature_c,
                water_g_m3=absolute_humidity(room.sim.temperature_c, room.sim.humidity_rh),
                doors={
                    door.id: _Door(pin=door.contact_pin, rng=random.Random(f"{sim.seed}/{room.id}/{door.id}"))
                    for door in room.doors
                },
            )
            for room in rooms
        }
        self._unplugged: set[tuple[str, str]] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.drive_pins()

    # -- what a sensor or a person sees ------------------------------------------------------

    def climate(self, room_id: str) -> tuple[float, float]:
        """True (temperature °C, relative humidity %) of a room now."""
        with self._lock:
            self.advance_to(self.clock.time())
            room = self._rooms[room_id]
            return room.temperature_c, relative_humidity(room.temperature_c, room.water_g_m3)

    def outside(self, at: float | None = None) -> tuple[float, float]:
        """Outside (temperature °C, relative humidity %): a daily sine, warmest at 15:00 local solar time."""
        weather = self.sim.weather
        t = self._now if at is None else at
        hour = (t / 3600.0) % 24.0
        temperature = weather.temperature_c + weather.daily_swing_c * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        return temperature, weather.humidity_rh

    def door_is_open(self, room_id: str, door_id: str) -> bool:
        with self._lock:
            self.advance_to(self.clock.time())
            return self._rooms[room_id].doors[door_id].open

    def open_door(self, room_id: str, door_id: str) -> None:
        """Open a door and keep it open until `close_door` (the random visitors leave it alone)."""
        self._set_door(room_id, door_id, True)

    def close_door(self, room_id: str, door_id: str) -> None:
        self._set_door(room_id, door_id, False)

    def unplug_sensor(self, room_id: str, sensor_id: str) -> None:
        """A sensor's cable comes loose (tests and scenarios): it stops answering until plugged in."""
        with self._lock:
            self._unplugged.add((room_id, sensor_id))

    def plug_in_sensor(self, room_id: str, sensor_id: str) -> None:
        with self._lock:
            self._unplugged.discard((room_id, sensor_id))

    def sensor_connected(self, room_id: str, sensor_id: str) -> bool:
        with self._lock:
            return (room_id, sensor_id) not in self._unplugged

    def dehumidifiers_running(self, room_id: str) -> list[str]:
        with self._lock:
            return [r.id for r in self._rooms[room_id].config.relays if self._relay_on(r.pin, r.active_high)]

    # -- time ------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.advance_to(self._now + seconds)

    def advance_to(self, t: float) -> None:
        """Integrate up to simulated time `t` in steps of at most MAX_STEP_S."""
        with self._lock:
            while self._now < t:
                dt = min(MAX_STEP_S, t - self._now)
                self._now += dt
                for room in self._rooms.values():
                    self._step(room, dt)
            self.drive_pins()

    def start(self) -> None:
        """Follow the clock in a background thread so door contacts change on time."""
        if self._thread:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="sim-world", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None

    def _follow(self) -> None:
        while not self._stop.wait(0.1):
            self.advance_to(self.clock.time())

    # -- physics ---------------------------------------------------------------------------

    def _step(self, room: _Room, dt_s: float) -> None:
        hours = dt_s / 3600.0
        outside_t, outside_rh = self.outside()
        self._visit_doors(room, dt_s)
        open_doors = sum(d.open for d in room.doors.values())
        air_changes = room.config.sim.air_changes_per_hour + DOOR_AIR_CHANGES * open_doors
        volume = room.config.sim.volume_m3

        removal_g_m3_h = 0.0
        heat_c_h = 0.0
        rh = relative_humidity(room.temperature_c, room.water_g_m3)
        for relay in room.config.relays:
            if self._relay_on(relay.pin, relay.active_high):
                efficiency = max(0.0, min(1.0, (rh - 35.0) / 45.0))
                removal_g_m3_h += relay.capacity_l_per_day * 1000.0 / 24.0 / volume * efficiency
                heat_c_h += DEHUMIDIFIER_HEAT_C_PER_H * (relay.capacity_l_per_day / 20.0) * (150.0 / volume)

        exchange = 1.0 - math.exp(-air_changes * hours)  # exact for a step of constant rate
        water_in = (absolute_humidity(outside_t, outside_rh) - room.water_g_m3) * exchange
        room.water_g_m3 = max(0.1, room.water_g_m3 + (water_in - removal_g_m3_h * hours) / HYGRIC_BUFFER)
        relax = 1.0 - math.exp(-hours * (1.0 / THERMAL_TIME_CONSTANT_H + air_changes * 0.05))
        room.temperature_c += (outside_t - room.temperature_c) * relax + heat_c_h * hours

    def _visit_doors(self, room: _Room, dt_s: float) -> None:
        rate_per_s = self.sim.door_openings_per_hour / 3600.0
        for door in room.doors.values():
            if door.held:
                continue
            if door.open and self._now >= door.closes_at:
                door.open = False
            elif not door.open and rate_per_s and door.rng.random() < 1.0 - math.exp(-rate_per_s * dt_s):
                door.open = True
                door.closes_at = self._now + door.rng.uniform(*DOOR_OPEN_S)

    # -- pins ------------------------------------------------------------------------------

    def _relay_on(self, pin: int, active_high: bool) -> bool:
        state = self.pins.pin(pin).state
        return bool(state) == active_high

    def _set_door(self, room_id: str, door_id: str, is_open: bool) -> None:
        with self._lock:
            self.advance_to(self.clock.time())
            door = self._rooms[room_id].doors[door_id]
            door.open, door.held = is_open, True
            self.drive_pins()

    def drive_pins(self) -> None:
        """Set every door contact's pin to match its door: closed (pulled to ground) while shut.

        Called after every step, and by whoever creates the input devices: gpiozero's pull-up drives a
        mock pin high when a Button is made, and the world must put the truth back before anyone listens.
        """
        for room in self._rooms.values():
            for door in room.doors.values():
                pin = self.pins.pin(door.pin)
                if bool(pin.state) != door.open:
                    pin.drive_high() if door.open else pin.drive_low()
