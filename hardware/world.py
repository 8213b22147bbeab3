"""The simulated storeroom: rooms whose air follows the weather, doors people open, dehumidifiers that work.

It sits below the devices, where the real hardware would be: it reads each dehumidifier's relay from its
GPIO pin and opens and closes each door's reed contact on its pin, on gpiozero's mock pin factory. The
gateway's gpiozero devices therefore run exactly as on a Pi, and tests drive the world, never the code
under test.

The physics is simple but honest enough that a controller can fail against it. Its assumptions:

- Outside air follows a daily sine around `weather.temperature_c`, warmest at 15:00 local time. Its water
  content stays put over the day (fair weather keeps its dew point), so outside RH is `weather.humidity_rh`
  at the daily mean and higher at night, up to saturation.
- A room exchanges air with the outside at its leakage rate (`air_changes_per_hour`); each open door adds
  `DOOR_AIR_FLOW_M3_H`, a fixed flow, so a small room floods faster than a big one.
- Water in a room sits in two stores. The air, together with the surfaces that follow it within minutes,
  holds `AIR_MOISTURE_FACTOR` times what the air alone holds. Paper, boxes and walls hold far more
  (`BUFFER_G_PER_RH_M3`) and trade with the air over hours (`BUFFER_TIME_CONSTANT_H`), at equal relative
  humidity, as paper does. So an open door is a spike that the paper soaks up, a dehumidifier dries the air
  fast and the paper slowly, and a warming room keeps its RH better than its air alone would.
- Relative humidity comes from absolute humidity (g/m³) and temperature by the Magnus formula, so a
  temperature change moves RH honestly.
- Temperature relaxes towards the outside through the envelope and the exchanged air, against the thermal
  mass of the air, shelving, paper and the inner layer of the walls. No sun, no people's heat.
- A compressor dehumidifier removes water at its rated capacity at its rating point (30 °C, 80 % RH) and
  less in cooler, drier air, as published performance curves show; it warms the room by its electrical
  power and the latent heat of the water it condenses. The water goes into its tank (`Relay.tank_l`); a full
  tank closes the tank-full switch and stops the compressor, as a unit's own float switch does.
- A relay is on only while its GPIO is an output at the relay's active level: an input (never set up, or
  released when the gateway closes its board) leaves the relay off, as relay modules behave.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gpiozero.pins.mock import MockFactory, MockPin

from hardware.background import Background
from hardware.clock import Clock
from hardware.config import Relay, Room, Simulation
from hardware.dht22_model import FAULTS, Fault
from hardware.door_world import (
    DEMO_BADGES,
    FORGOT_S,
    HOLD_S,
    PAIR_GAP_S,
    PULL_AFTER_S,
    AccessDoor,
    Badge,
    People,
    SwitchPin,
)

# -- physics constants ---------------------------------------------------------------------------

DOOR_AIR_FLOW_M3_H = 1800.0
"""Air traded through one open door: buoyancy flow through a 0.9 × 2 m doorway at a few kelvin difference
(~900 m³/h) doubled for people and trolleys passing. 10-15 air changes an hour in the demo's rooms."""
AIR_MOISTURE_FACTOR = 3.0
"""Water held by the air and the surfaces that follow it within minutes, relative to the air alone."""
BUFFER_G_PER_RH_M3 = 3.0
"""Water the paper, boxes and walls take up per % RH, per m³ of room: about 17 times the air's at 20 °C.
A packed stack holds far more, but most of it sits deep in boxes and answers over weeks, not hours."""
BUFFER_TIME_CONSTANT_H = 3.0
"""How fast the paper follows the room air: within a few hours, so it soaks up a door's spike in well
under an hour, and holds the air a few % RH from its own level against a leak or a running dehumidifier."""
THERMAL_MASS_KJ_PER_K_M3 = 60.0
"""Heat capacity that follows the room within hours: air (1.2) plus shelving, paper and inner walls."""
ENVELOPE_W_PER_K_M3 = 0.8
"""Heat loss through walls and roof per kelvin, per m³ of room; with the thermal mass, a time constant of
about 20 h, which damps the outside daily swing to about a fifth and delays it by about 5 h."""
AIR_HEAT_KJ_PER_K_M3 = 1.2
"""Heat capacity of air: what each exchanged cubic metre brings in or takes out per kelvin."""
LATENT_HEAT_KJ_PER_G = 2.45
"""Released in the room by every gram of water a dehumidifier condenses."""
COMPRESSOR_W_PER_L_DAY = 16.0
"""Electrical power per litre a day of rated capacity (a 20 L/day unit draws about 320 W)."""
RATED_TEMPERATURE_C, RATED_HUMIDITY_RH = 30.0, 80.0
"""Where dehumidifier capacities are rated (the usual 30 °C / 80 % RH test point)."""
DRIEST_RH, COLDEST_C = 35.0, 5.0
"""Below these a compressor dehumidifier extracts next to nothing (the coil frosts or the air is dry)."""

# -- simulation constants ------------------------------------------------------------------------

MAX_STEP_S = 30.0
"""Longest integration step; every process is integrated exactly over a step, so this only bounds how
late the weather and the dehumidifiers' conditions are seen."""
DOOR_OPEN_S = (30.0, 150.0)
"""How long a person keeps a door open: uniform between these, a minute and a half on average."""
MIN_DOOR_SHUT_S = 10.0
"""Shortest mean shut time between visitors, however busy the door is configured to be."""


# -- air and water -------------------------------------------------------------------------------


def saturation_vapour_pressure_hpa(temperature_c: float) -> float:
    """Magnus formula (WMO constants), good to 0.1 % between -45 and 60 °C."""
    return 6.112 * math.exp(17.62 * temperature_c / (243.12 + temperature_c))


def absolute_humidity(temperature_c: float, humidity_rh: float) -> float:
    """Grams of water per m³ of air at this temperature and relative humidity."""
    vapour_hpa = saturation_vapour_pressure_hpa(temperature_c) * humidity_rh / 100.0
    return 216.7 * vapour_hpa / (temperature_c + 273.15)


def relative_humidity(temperature_c: float, absolute_g_m3: float) -> float:
    """Relative humidity (%) of air holding `absolute_g_m3` at this temperature, capped at saturation."""
    saturated = absolute_humidity(temperature_c, 100.0)
    return max(0.0, min(100.0, 100.0 * absolute_g_m3 / saturated))


def dehumidifier_extraction_l_per_day(capacity_l_per_day: float, temperature_c: float, humidity_rh: float) -> float:
    """Water a compressor dehumidifier takes out of air at these conditions.

    The rated capacity holds at 30 °C / 80 % RH only. Manufacturers' curves fall roughly linearly with
    RH to nothing near 35 % and with temperature to nothing near 5 °C: a 20 L/day unit takes about 10 L a
    day at 27 °C / 60 % and 6 L at 20 °C / 60 %. Above the rating point it does a little better.
    """
    by_humidity = (humidity_rh - DRIEST_RH) / (RATED_HUMIDITY_RH - DRIEST_RH)
    by_temperature = (temperature_c - COLDEST_C) / (RATED_TEMPERATURE_C - COLDEST_C)
    return capacity_l_per_day * min(1.25, max(0.0, by_humidity)) * min(1.25, max(0.0, by_temperature))


# -- wiring --------------------------------------------------------------------------------------


class ReedContactPin(SwitchPin):
    """A GPIO input wired through a door's reed contact to ground.

    While the contact is closed (door shut) it holds the pin low whatever pull-up a device switches on;
    once open, the pin follows its pull. A plain mock pin would jump high the moment a gpiozero Button
    asks for its pull-up, reporting every door open until the world said otherwise.
    """

    closed = True

    def set_contact(self, closed: bool) -> None:
        self.set_closed(closed)


def _wire_contact(pins: MockFactory, pin: int) -> MockPin:
    return pins.pin(pin, pin_class=ReedContactPin)


def _set_contact(pin: MockPin, closed: bool) -> None:
    if isinstance(pin, ReedContactPin):
        pin.set_contact(closed)
        return
    # A device made this pin before the world could wire it: drive it by hand (see World.drive_pins).
    if closed:
        pin.drive_low()
    else:
        pin.drive_high()


# -- the world -----------------------------------------------------------------------------------


@dataclass
class _Door:
    id: str
    pin: MockPin
    rng: random.Random
    open: bool = False
    held_open: bool = False
    """Opened by hand (tests, scenarios): the simulated visitors leave it alone until it is closed."""
    access: AccessDoor | None = None
    """Its strike, buttons and readers, for a door with access hardware."""
    next_change: float = math.inf
    """When a visitor next opens it (while shut) or closes it behind them (while open)."""


@dataclass
class _Dehumidifier:
    config: Relay
    pin: MockPin
    tank_pin: MockPin | None = None
    water_l: float = 0.0
    """All the water it has removed."""
    in_tank_l: float = 0.0
    full_since: float | None = None

    def tank_full(self) -> bool:
        return self.config.tank_l is not None and self.in_tank_l >= self.config.tank_l

    def switched_on(self) -> bool:
        return self.pin.function == "output" and bool(self.pin.state) == self.config.active_high

    def running(self) -> bool:
        """Its relay is on and its tank has room: a unit's own float switch stops its compressor when full."""
        return self.switched_on() and not self.tank_full()


@dataclass
class _Room:
    config: Room
    temperature_c: float
    water_g_m3: float
    """Absolute humidity of the room air."""
    buffer_rh: float
    """Relative humidity the paper and walls are in balance with."""
    doors: dict[str, _Door]
    dehumidifiers: dict[str, _Dehumidifier]
    open_doors: int = 0


class World(Background):
    """The simulated rooms of one gateway.

    `advance(seconds)` or `advance_to(t)` by hand (unit tests on a ManualClock), or `start()` a thread that
    follows the clock (`stop()` ends it). Everything is behind one lock, so the gateway's threads may read it
    at will. Door callbacks of gpiozero devices run on the thread that advanced the world, with the world
    locked: they may read the world, but must not wait for other threads that use it.
    """

    thread_name = "sim-world"

    def __init__(
        self, rooms: list[Room], sim: Simulation, clock: Clock, pins: MockFactory, *, timezone: str = "UTC"
    ) -> None:
        super().__init__()
        self.sim = sim
        self.clock = clock
        self.pins = pins
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r} for the simulated weather") from None
        self._lock = threading.RLock()
        self._now = clock.time()
        offset = zone.utcoffset(datetime.fromtimestamp(self._now, UTC))
        self._utc_offset_s = offset.total_seconds() if offset else 0.0
        self._rooms: dict[str, _Room] = {}
        for room in rooms:
            self._rooms[room.id] = _Room(
                config=room,
                temperature_c=room.sim.temperature_c,
                water_g_m3=absolute_humidity(room.sim.temperature_c, room.sim.humidity_rh),
                buffer_rh=room.sim.humidity_rh,
                doors={
                    d.id: _Door(d.id, _wire_contact(pins, d.contact_pin), random.Random(f"{sim.seed}/{room.id}/{d.id}"))
                    for d in room.doors
                },
                dehumidifiers={
                    r.id: _Dehumidifier(
                        r,
                        pins.pin(r.pin),
                        _wire_contact(pins, r.tank_full_pin) if r.tank_full_pin is not None else None,
                    )
                    for r in room.relays
                },
            )
            for door in self._rooms[room.id].doors.values():
                self._schedule_visit(door)
        self._faults: dict[tuple[str, str], Fault] = {}
        self._wire_access(rooms, pins)
        self.drive_pins()

    # -- what a sensor or a person sees ------------------------------------------------------

    @property
    def now(self) -> float:
        """The world's own time (epoch seconds): how far it has been advanced."""
        with self._lock:
            return self._now

    def climate(self, room_id: str) -> tuple[float, float]:
        """True (temperature °C, relative humidity %) of a room's air at the clock's time (for an outdoor
        position, the weather's)."""
        with self._lock:
            self.advance_to(self.clock.time())
            room = self._room(room_id)
            if room.config.outdoor:
                return self.outside()
            return room.temperature_c, relative_humidity(room.temperature_c, room.water_g_m3)

    def outside(self, at: float | None = None) -> tuple[float, float]:
        """Outside (temperature °C, relative humidity %) at `at` (default: the world's time)."""
        temperature, water = self._outside(self.now if at is None else at)
        return temperature, relative_humidity(temperature, water)

    def has_room(self, room_id: str) -> bool:
        return room_id in self._rooms

    def door_is_open(self, room_id: str, door_id: str) -> bool:
        with self._lock:
            self.advance_to(self.clock.time())
            return self._door(room_id, door_id).open

    def open_door(self, room_id: str, door_id: str) -> None:
        """Open a door now and keep it open until `close_door` (the simulated visitors leave it alone)."""
        with self._lock:
            self.advance_to(self.clock.time())
            door = self._door(room_id, door_id)
            door.held_open, door.next_change = True, math.inf
            self._set_door(self._rooms[room_id], door, True)
            self.drive_pins()

    def close_door(self, room_id: str, door_id: str) -> None:
        """Close a door now; the simulated visitors take it from here."""
        with self._lock:
            self.advance_to(self.clock.time())
            door = self._door(room_id, door_id)
            door.held_open = False
            self._set_door(self._rooms[room_id], door, False)
            self._schedule_visit(door)
            self.drive_pins()

    def dehumidifiers_running(self, room_id: str) -> list[str]:
        """Ids of the room's dehumidifiers whose relay is on now."""
        with self._lock:
            return [d.config.id for d in self._room(room_id).dehumidifiers.values() if d.switched_on()]

    def water_removed_l(self, room_id: str, relay_id: str) -> float:
        """Litres a dehumidifier has taken out of the room so far (emptied tanks included)."""
        with self._lock:
            self.advance_to(self.clock.time())
            return self._dehumidifier(room_id, relay_id).water_l

    def empty_tank(self, room_id: str, relay_id: str) -> None:
        """Someone empties a dehumidifier's tank: its float switch opens again."""
        with self._lock:
            self.advance_to(self.clock.time())
            self._dehumidifier(room_id, relay_id).in_tank_l = 0.0
            self.drive_pins()

    def tank_full(self, room_id: str, relay_id: str) -> bool:
        with self._lock:
            self.advance_to(self.clock.time())
            return self._dehumidifier(room_id, relay_id).tank_full()

    def unplug_sensor(self, room_id: str, sensor_id: str) -> None:
        """A sensor's cable comes loose (tests and scenarios): it stops answering until plugged in."""
        self.set_sensor_fault(room_id, sensor_id, "no_response")

    def plug_in_sensor(self, room_id: str, sensor_id: str) -> None:
        self.set_sensor_fault(room_id, sensor_id, None)

    def set_sensor_fault(self, room_id: str, sensor_id: str, fault: Fault | None) -> None:
        """Give a sensor one of the faults of `hardware.dht22_model.FAULTS`, or heal it with None."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown sensor fault {fault!r} (one of {', '.join(FAULTS)})")
        with self._lock:
            self._room(room_id)
            if fault is None:
                self._faults.pop((room_id, sensor_id), None)
            else:
                self._faults[room_id, sensor_id] = fault

    def sensor_fault(self, room_id: str, sensor_id: str) -> Fault | None:
        with self._lock:
            return self._faults.get((room_id, sensor_id))

    def sensor_connected(self, room_id: str, sensor_id: str) -> bool:
        return self.sensor_fault(room_id, sensor_id) != "no_response"

    # -- time ------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Run the world `seconds` past its own time. It never goes back: ahead of its clock, it waits there."""
        with self._lock:
            self.advance_to(self._now + seconds)

    def advance_to(self, t: float) -> None:
        """Integrate up to time `t` in steps of at most MAX_STEP_S, stopping at every door a visitor moves.

        Door contacts are switched as each door moves, so a gpiozero Button sees every opening, however
        far the world is advanced at once.
        """
        with self._lock:
            while self._now < t:
                end = min(self._now + MAX_STEP_S, t, self.people.next_at(), *self._door_changes())
                if end > self._now:
                    tanks = self._full_tanks()
                    for room in self._rooms.values():
                        self._step(room, end - self._now)
                    self._now = end
                    if self._empty_full_tanks() or self._full_tanks() != tanks:
                        self.drive_pins()
                if self._visit_doors():
                    self.drive_pins()
                self._run_people()
            self._run_people()  # what people do at this very moment (a visit that starts now)

    def _run(self) -> None:
        """Follow the clock on the background thread (every 0.1 s of wall time) so doors move on time."""
        while not self._stop.wait(0.1):
            self.advance_to(self.clock.time())

    # -- physics ---------------------------------------------------------------------------

    def _outside(self, t: float) -> tuple[float, float]:
        """Outside (temperature °C, absolute humidity g/m³) at epoch time `t`."""
        weather = self.sim.weather
        hour = ((t + self._utc_offset_s) / 3600.0) % 24.0
        temperature = weather.temperature_c + weather.daily_swing_c * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        water = absolute_humidity(weather.temperature_c, weather.humidity_rh)
        return temperature, min(water, absolute_humidity(temperature, 100.0))  # dew at night, not fog indoors

    def _step(self, room: _Room, dt_s: float) -> None:
        """Move one room `dt_s` seconds on; each process is integrated exactly for constant conditions."""
        hours = dt_s / 3600.0
        volume = room.config.sim.volume_m3
        outside_c, outside_water = self._outside(self._now + dt_s / 2)
        air_changes = room.config.sim.air_changes_per_hour + DOOR_AIR_FLOW_M3_H * room.open_doors / volume

        # Dehumidifiers: the water they take out of the air, and the heat they give off while running.
        humidity = relative_humidity(room.temperature_c, room.water_g_m3)
        removed_g_h, heat_w = 0.0, 0.0
        for dehumidifier in room.dehumidifiers.values():
            if dehumidifier.running():
                capacity = dehumidifier.config.capacity_l_per_day
                litres_day = dehumidifier_extraction_l_per_day(capacity, room.temperature_c, humidity)
                dehumidifier.water_l += litres_day * hours / 24.0
                dehumidifier.in_tank_l += litres_day * hours / 24.0
                removed_g_h += litres_day * 1000.0 / 24.0
                heat_w += COMPRESSOR_W_PER_L_DAY * capacity + litres_day * 1000.0 / 24.0 * LATENT_HEAT_KJ_PER_G / 3.6

        # Temperature: towards the outside (plus the dehumidifiers' heat) through walls and exchanged air.
        loss_w_k = (ENVELOPE_W_PER_K_M3 + AIR_HEAT_KJ_PER_K_M3 * air_changes / 3.6) * volume
        settles_at = outside_c + heat_w / loss_w_k
        time_constant_h = THERMAL_MASS_KJ_PER_K_M3 * volume / (loss_w_k * 3.6)
        room.temperature_c += (settles_at - room.temperature_c) * -math.expm1(-hours / time_constant_h)

        # Water in the air and its fast surfaces: exchange with the outside, then the dehumidifiers.
        air_g_per_g_m3 = AIR_MOISTURE_FACTOR * volume
        room.water_g_m3 += (outside_water - room.water_g_m3) * -math.expm1(-air_changes * hours / AIR_MOISTURE_FACTOR)
        room.water_g_m3 = max(0.0, room.water_g_m3 - removed_g_h * hours / air_g_per_g_m3)

        # Paper and walls trade water with the air towards equal relative humidity, conserving the total.
        saturated = absolute_humidity(room.temperature_c, 100.0)
        air_g_per_rh = air_g_per_g_m3 * saturated / 100.0
        buffer_g_per_rh = BUFFER_G_PER_RH_M3 * volume
        conductance = buffer_g_per_rh / BUFFER_TIME_CONSTANT_H  # g/h per % RH of difference
        air_rh = 100.0 * room.water_g_m3 / saturated
        balance = (air_g_per_rh * air_rh + buffer_g_per_rh * room.buffer_rh) / (air_g_per_rh + buffer_g_per_rh)
        keep = math.exp(-conductance * (1.0 / air_g_per_rh + 1.0 / buffer_g_per_rh) * hours)
        air_rh = balance + (air_rh - balance) * keep
        room.buffer_rh = balance + (room.buffer_rh - balance) * keep
        room.water_g_m3 = min(air_rh, 100.0) * saturated / 100.0  # beyond saturation it condenses out

    def _full_tanks(self) -> list[bool]:
        return [u.tank_full() for r in self._rooms.values() for u in r.dehumidifiers.values()]

    def _empty_full_tanks(self) -> bool:
        """A simulated keeper empties a tank `tank_emptied_after_h` after it filled; True if one was emptied."""
        wait_s = self.sim.tank_emptied_after_h * 3600.0
        emptied = False
        for room in self._rooms.values():
            for unit in room.dehumidifiers.values():
                if not unit.tank_full():
                    unit.full_since = None
                elif unit.full_since is None:
                    unit.full_since = self._now
                elif wait_s > 0 and self._now - unit.full_since >= wait_s:
                    unit.in_tank_l, unit.full_since, emptied = 0.0, None, True
        return emptied

    # -- doors -----------------------------------------------------------------------------

    def _door_changes(self) -> list[float]:
        return [d.next_change for r in self._rooms.values() for d in r.doors.values()]

    def _schedule_visit(self, door: _Door) -> None:
        """Draw when the next visitor opens a shut door, so that openings average the configured rate.

        At a door with a strike the visitors are people with badges (`_random_visit`), never a bare opening."""
        rate = self.sim.door_openings_per_hour
        if rate <= 0 or door.held_open or door.access:
            door.next_change = math.inf
            return
        mean_shut_s = max(MIN_DOOR_SHUT_S, 3600.0 / rate - sum(DOOR_OPEN_S) / 2)
        door.next_change = self._now + door.rng.expovariate(1.0 / mean_shut_s)

    def _visit_doors(self) -> bool:
        """Open or close the doors whose visitor is due; True if any door moved."""
        moved = False
        for room in self._rooms.values():
            for door in room.doors.values():
                if door.next_change > self._now:
                    continue
                moved = True
                if door.open:
                    self._set_door(room, door, False)
                    self._schedule_visit(door)
                else:
                    self._set_door(room, door, True)
                    door.next_change = self._now + door.rng.uniform(*DOOR_OPEN_S)
        return moved

    def _set_door(self, room: _Room, door: _Door, is_open: bool) -> None:
        door.open = is_open
        room.open_doors = sum(d.open for d in room.doors.values())

    # -- door access: strikes, buttons, readers, people with badges ----------------------------

    def _wire_access(self, rooms: list[Room], pins: MockFactory) -> None:
        self.people = People()
        self.settle: Callable[[], object] | None = None
        """Called after a badge is presented, to wait until the gateway has decided it (set by the gateway's
        controller in simulation), so a person pulling the door a moment later finds what it decided."""
        for room in rooms:
            for config in room.doors:
                if config.access is None:
                    continue
                door = self._rooms[room.id].doors[config.id]
                door.access = AccessDoor.wire(config, pins)
                door.next_change = math.inf
                self._schedule_random_visit(room.id, door)

    def _access(self, room_id: str, door_id: str) -> tuple[_Room, _Door, AccessDoor]:
        door = self._door(room_id, door_id)
        if door.access is None:
            raise KeyError(f"door {room_id}/{door_id} has no access hardware")
        return self._rooms[room_id], door, door.access

    def _run_people(self) -> None:
        for act in self.people.pop_due(self._now):
            act()
        for room in self._rooms.values():
            for door in room.doors.values():
                if door.access:
                    door.access.update_sense()

    def access_hardware(self, room_id: str, door_id: str) -> AccessDoor:
        """A badge door's simulated strike, switches and readers (benchmarks reach its pins directly)."""
        with self._lock:
            return self._access(room_id, door_id)[2]

    def door_locked(self, room_id: str, door_id: str) -> bool:
        with self._lock:
            return self._access(room_id, door_id)[2].locked

    def door_log(self, room_id: str, door_id: str) -> list[dict]:
        """What the simulated people met at a door (pulled it locked, forgot to close it, ...)."""
        with self._lock:
            return list(self._access(room_id, door_id)[2].log)

    def present_badge(
        self, room_id: str, door_id: str, badge: Badge, side: str = "outside", *, flip: int | None = None
    ) -> None:
        """Hold a badge to the door's Wiegand reader on `side` (a bit flipped: a garbled read)."""
        with self._lock:
            _, _, access = self._access(room_id, door_id)
            if side not in access.readers:
                raise KeyError(f"door {room_id}/{door_id} has no Wiegand reader {side}")
            access.readers[side].present(badge.facility, badge.card, badge.bits, flip=flip)
            access.log.append({"t": self._now, "did": "badge", "who": badge.holder, "side": side})
        if self.settle:
            self.settle()

    def pull_door(self, room_id: str, door_id: str, who: str = "") -> bool:
        """Someone pulls the door: it opens if its strike is unlocked. True if it opened."""
        with self._lock:
            room, door, access = self._access(room_id, door_id)
            access.update_sense()
            if access.locked:
                access.log.append({"t": self._now, "did": "pulled a locked door", "who": who})
                return False
            self._set_door(room, door, True)
            access.log.append({"t": self._now, "did": "opened", "who": who})
            self.drive_pins()
            return True

    def _shut(self, room_id: str, door_id: str) -> None:
        """A person closes the door (inside the world's step: no advancing)."""
        room, door, _ = self._access(room_id, door_id)
        door.held_open = False
        self._set_door(room, door, False)
        self.drive_pins()

    def force_door(self, room_id: str, door_id: str) -> None:
        """Open a door whatever its lock says (a crowbar, a latch taped over) and leave it to `close_door`."""
        self.open_door(room_id, door_id)

    def _flip(self, room_id: str, door_id: str, which: str, *closed: bool) -> None:
        with self._lock:
            switch = getattr(self._access(room_id, door_id)[2], which)
            if switch is None:
                raise KeyError(f"door {room_id}/{door_id} has no {which.replace('_', ' ')} input")
            for state in closed:
                switch.set_closed(state)

    def press_exit(self, room_id: str, door_id: str) -> None:
        """Press and release the request-to-exit button."""
        self._flip(room_id, door_id, "exit_button", True, False)

    def set_tamper(self, room_id: str, door_id: str, intact: bool) -> None:
        """The reader's tamper loop: closed while the housing is intact."""
        self._flip(room_id, door_id, "tamper", intact)

    def set_emergency(self, room_id: str, door_id: str, active: bool) -> None:
        """The fire panel's release contact: closed during an emergency."""
        self._flip(room_id, door_id, "emergency", active)

    def jam_strike(self, room_id: str, door_id: str, locked: bool | None) -> None:
        """Stick a strike locked (True) or unlocked (False) whatever its relay says; None repairs it."""
        with self._lock:
            _, _, access = self._access(room_id, door_id)
            access.jammed = locked
            access.update_sense()

    def visit(
        self,
        room_id: str,
        door_id: str,
        badges: list[Badge],
        *,
        at: float | None = None,
        stay_s: float = 600.0,
        forget_to_close: bool = False,
        leave_by: str = "button",
    ) -> None:
        """People badge in (one after another), pull the door, go in, close it (or forget to), and after
        `stay_s` leave by the exit button or badging at the inside reader (`leave_by`: button, badge)."""
        with self._lock:
            self._access(room_id, door_id)
            start = self._now if at is None else at
            names = "+".join(b.holder for b in badges)
            for i, badge in enumerate(badges):
                self.people.at(start + i * PAIR_GAP_S, lambda b=badge: self.present_badge(room_id, door_id, b))
            pull = start + (len(badges) - 1) * PAIR_GAP_S + PULL_AFTER_S

            def enter() -> None:
                if not self.pull_door(room_id, door_id, names):
                    return
                self.people.at(self._now + (FORGOT_S if forget_to_close else HOLD_S), shut)
                self.people.at(self._now + stay_s, leave)

            def shut() -> None:
                if forget_to_close:
                    self._access(room_id, door_id)[2].log.append({"t": self._now, "did": "forgot", "who": names})
                self._shut(room_id, door_id)

            def leave() -> None:
                if leave_by == "badge":
                    for i, badge in enumerate(badges):
                        self.people.at(
                            self._now + i * PAIR_GAP_S,
                            lambda b=badge: self.present_badge(room_id, door_id, b, "inside"),
                        )
                    wait = (len(badges) - 1) * PAIR_GAP_S + PULL_AFTER_S
                else:
                    self.press_exit(room_id, door_id)
                    wait = PULL_AFTER_S

                def out() -> None:
                    if self.pull_door(room_id, door_id, names):
                        self.people.at(self._now + HOLD_S, lambda: self._shut(room_id, door_id))

                self.people.at(self._now + wait, out)

            self.people.at(pull, enter)

    def _schedule_random_visit(self, room_id: str, door: _Door) -> None:
        """Staff come to a door with a strike at the configured rate: mostly in pairs, now and then with a
        visitor, alone, or a stranger's badge; one in twenty forgets to close the door."""
        rate = self.sim.badge_visits_per_hour
        if rate <= 0:
            return
        when = self._now + door.rng.expovariate(rate / 3600.0)

        def come() -> None:
            staff = [b for b in DEMO_BADGES if b.facility == 12]
            draw = door.rng.random()
            if draw < 0.55:
                party = door.rng.sample(staff, 2)
            elif draw < 0.7:
                party = [next(b for b in DEMO_BADGES if b.holder == "visitor-1"), door.rng.choice(staff)]
            elif draw < 0.9:
                party = [door.rng.choice(staff)]
            else:
                party = [next(b for b in DEMO_BADGES if b.holder == "stranger")]
            if not door.open:
                self.visit(
                    room_id,
                    door.id,
                    party,
                    stay_s=door.rng.uniform(120, 900),
                    forget_to_close=door.rng.random() < 0.05,
                )
            self._schedule_random_visit(room_id, door)

        self.people.at(when, come)

    # -- pins and lookups ------------------------------------------------------------------

    def drive_pins(self) -> None:
        """Put every door contact's pin in line with its door: closed (pin low) while the door is shut.

        The world wires its contact pins itself when it is made before the gateway's devices (as
        `hardware.sim.simulated_site` does), and the pins then hold the truth on their own. A pin a device
        made first is a plain mock pin that a Button's pull-up drives high: whoever builds devices before
        the world must call this afterwards, before anyone listens to the doors.
        """
        with self._lock:
            for room in self._rooms.values():
                for door in room.doors.values():
                    _set_contact(door.pin, closed=not door.open)
                for unit in room.dehumidifiers.values():
                    if unit.tank_pin is not None:
                        _set_contact(unit.tank_pin, closed=unit.tank_full())

    def _room(self, room_id: str) -> _Room:
        try:
            return self._rooms[room_id]
        except KeyError:
            raise KeyError(f"no room {room_id!r} in this simulated world (has {sorted(self._rooms)})") from None

    def _dehumidifier(self, room_id: str, relay_id: str) -> _Dehumidifier:
        room = self._room(room_id)
        if relay_id not in room.dehumidifiers:
            raise KeyError(f"room {room_id!r} has no dehumidifier {relay_id!r} (has {sorted(room.dehumidifiers)})")
        return room.dehumidifiers[relay_id]

    def _door(self, room_id: str, door_id: str) -> _Door:
        room = self._room(room_id)
        if door_id not in room.doors:
            raise KeyError(f"room {room_id!r} has no door {door_id!r} (has {sorted(room.doors)})")
        return room.doors[door_id]
