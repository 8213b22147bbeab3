"""What a gateway does on its own, network or not: sample sensors, run each room's climate, watch doors.

The controller knows nothing of MQTT or the outbox: it hands every reading, event and room value to the
callbacks it is given. `GatewayService` sends them through the outbox; `storeroom sim run` records them in a report.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import threading
from collections.abc import Callable
from typing import Any

from gateway.alarms import Alarms
from gateway.climate import RoomControl
from gateway.doors import Doors
from hardware.board import Board, pin_factory
from hardware.clock import Clock
from hardware.config import Room, SiteConfig
from sensors import open_climate_sensor
from sensors.climate import ClimateSample
from sensors.sampler import Sampler

log = logging.getLogger(__name__)

SETTLE_BOUND_S = 60.0
"""How long a simulated person waits at the door for the gateway to decide on their badge (wall-clock time).

A liveness bound, not a timing: the decision normally takes milliseconds, but on a loaded machine the
receiver's thread or the outbox's disk write may wait seconds for their turn, and a person who walked on
after a fixed short wait would pull a door that was about to unlock."""

OnReading = Callable[[str, str, ClimateSample], None]
OnEvent = Callable[..., None]
OnRoom = Callable[[RoomControl], None]


class Controller:
    """One gateway's devices and control. Call `step()` whenever `clock.monotonic()` reaches `next_due()`."""

    def __init__(
        self,
        site: SiteConfig,
        gateway_id: str,
        clock: Clock,
        *,
        on_reading: OnReading,
        on_event: OnEvent,
        on_room: OnRoom | None = None,
    ) -> None:
        self.rooms = site.rooms_of(gateway_id)
        self.clock = clock
        self.on_reading = on_reading
        self.event = on_event
        self.on_room = on_room
        self.world: Any = None
        if site.hardware.backend == "sim":
            from hardware.sim import simulated_site  # the simulated storeroom is never loaded on a Pi

            factory, self.world = simulated_site(site, gateway_id, clock)
        else:
            factory = pin_factory(site.hardware)
        self.pins = factory
        """Where every GPIO device of this gateway gets its pins (mock pins in the simulation)."""
        self.board = Board(self.rooms, factory)
        rng = random.Random(f"{site.hardware.sim.seed}/{gateway_id}")
        self.samplers: dict[tuple[str, str], Sampler] = {
            (room.id, s.id): open_climate_sensor(s, site.hardware.backend, self.world, room.id, rng, clock)
            for room in self.rooms
            for s in room.sensors
        }
        self.alarms = Alarms(self.event, clock.monotonic)
        self.controls = {
            room.id: RoomControl(
                room,
                relay=functools.partial(self.board.relay, room.id),
                tank_full=functools.partial(self.board.tank_full, room.id),
                alarms=self.alarms,
                event=self.event,
                now=clock.monotonic(),
            )
            for room in self.rooms
        }
        # Sampling and commands (on the link's thread) both switch relays: one decision at a time.
        self.lock = threading.Lock()
        self.doors = self._door_access(site, gateway_id, factory)
        self._wire_doors()

    def next_due(self) -> float:
        """When `step` has work next (monotonic seconds)."""
        doors = [d for d in [self.doors.next_due()] if d != math.inf] if self.doors else []
        return min([s.next_due for s in self.samplers.values()] + doors, default=self.clock.monotonic() + 1.0)

    def step(self) -> None:
        """Sample every sensor that is due, and decide its room again."""
        if self.doors:
            self.doors.tick()  # the doors' own thread does this too: a strike never waits for a sensor
        now = self.clock.monotonic()
        for (room_id, sensor_id), sampler in self.samplers.items():
            if sampler.next_due <= now:
                self._sample(room_id, sensor_id, sampler)

    def control(self, room_id: str, sensor_id: str | None = None, sample: ClimateSample | None = None) -> None:
        """Decide a room again (after a sample, a new band, an override)."""
        with self.lock:
            control = self.controls[room_id]
            control.update(self.clock.monotonic(), sensor_id, sample)
            if self.on_room:
                self.on_room(control)

    def close(self) -> None:
        for sampler in self.samplers.values():
            sampler.close()
        if self.doors:
            self.doors.close()
        self.board.close()

    # -- sensing ------------------------------------------------------------------------------

    def _sample(self, room_id: str, sensor_id: str, sampler: Sampler) -> None:
        try:
            sample = sampler.poll()
        except Exception as exc:  # a driver bug must not stop the gateway: report it and go on
            log.exception("sensor %s/%s raised", room_id, sensor_id)
            sample = ClimateSample(None, None, "failed", f"{type(exc).__name__}: {exc}")
            sampler.next_due = self.clock.monotonic() + sampler.sensor.interval_s
        if sample is None:  # a failed read, to be tried again shortly
            return
        self.on_reading(room_id, sensor_id, sample)
        self._note_sensor_state(room_id, sensor_id, sample)
        self.control(room_id, sensor_id, sample)

    def _note_sensor_state(self, room_id: str, sensor_id: str, sample: ClimateSample) -> None:
        """A sensor whose value can no longer drive control is an alarm: stale first, failed after.

        Single failed reads are routine for a DHT22 ("A full buffer was not returned"); the sampler retries
        them and keeps a degraded value, so only a sensor that stays silent raises anything.
        """
        why = sample.error or sample.state
        self.alarms.set(
            "sensor_stale",
            sample.state == "stale",
            room=room_id,
            device=sensor_id,
            severity="warning",
            message=f"sensor {sensor_id}: no good read for {sample.age_s:.0f} s ({why}); not used for control",
            cleared_message=f"sensor {sensor_id} is {sample.state}",
            data={"state": sample.state},
        )
        self.alarms.set(
            "sensor_failed",
            sample.state == "failed",
            room=room_id,
            device=sensor_id,
            message=f"sensor {sensor_id} has failed: {why}",
            cleared_message=f"sensor {sensor_id} reads again ({sample.state})",
            data={"state": sample.state},
        )

    # -- doors --------------------------------------------------------------------------------

    def _wire_doors(self) -> None:
        for room in self.rooms:
            for door in room.doors:
                contact = self.board.door(room.id, door.id)
                # The reed contact is closed (pressed) while the door is shut.
                contact.when_released = self._door_handler(room, door.id, opened=True)
                contact.when_pressed = self._door_handler(room, door.id, opened=False)

    def _door_access(self, site: SiteConfig, gateway_id: str, factory: Any) -> Doors | None:
        """The badge readers, strikes and door alarms of the doors that have them (gateway/doors.py)."""
        if not any(room.badge_door for room in self.rooms):
            return None
        doors = Doors(site, gateway_id, factory, self.board.door, self.alarms, self.event, self.clock)
        if self.world is not None:
            self.world.settle = functools.partial(_settle, doors)  # a person pulls after the gateway has decided
        return doors

    def _door_handler(self, room: Room, door_id: str, *, opened: bool) -> Callable[[], None]:
        def handler() -> None:
            if self.doors:
                self.doors.contact_changed(room.id, door_id, opened)
            self.event(
                "door",
                room=room.id,
                device=door_id,
                message=f"{door_id} {'opened' if opened else 'closed'}",
                data={"open": opened},
            )

        return handler


def _settle(doors: Doors) -> bool:
    """Wait until the doors have decided every frame on the wire (the simulated world's `settle`)."""
    if doors.idle(SETTLE_BOUND_S):
        return True
    log.warning("a badge was still undecided after %g s: the simulated person goes on without it", SETTLE_BOUND_S)
    return False
