"""One gateway, wired: its board and sensors, its climate control, its outbox and its broker link.

Control never waits for the network: readings, relay decisions and door events go into the outbox and
on to the devices at once; the link sends the outbox whenever the broker is reachable.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from gateway import protocol
from gateway.alarms import Alarms
from gateway.climate import RoomControl
from gateway.link import Link
from gateway.outbox import Outbox
from gateway.settings import Settings
from gateway.timesync import clock_synced
from hardware.board import Board, pin_factory
from hardware.clock import Clock, SimClock, WallClock
from hardware.config import Room, SiteConfig
from sensors import open_climate_sensor
from sensors.climate import ClimateSample
from sensors.sampler import Sampler
from storeroom import __version__

log = logging.getLogger(__name__)


class GatewayService:
    """Everything one gateway runs. `run(stop)` blocks until `stop` is set."""

    def __init__(
        self,
        site: SiteConfig,
        gateway_id: str,
        *,
        password: str,
        broker_host: str | None = None,
        broker_port: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.site = site
        self.gateway = site.gateway(gateway_id)
        self.rooms = site.rooms_of(gateway_id)
        simulated = site.hardware.backend == "sim"
        self.clock = clock or (SimClock(site.hardware.sim.speed) if simulated else WallClock())
        self.world = None
        if simulated:
            from hardware.sim import simulated_site  # the simulated storeroom is never loaded on a Pi

            factory, self.world = simulated_site(site, gateway_id, self.clock)
        else:
            factory = pin_factory(site.hardware)
        self.board = Board(self.rooms, factory)
        rng = random.Random(f"{site.hardware.sim.seed}/{gateway_id}")
        self.samplers: dict[tuple[str, str], Sampler] = {
            (room.id, s.id): open_climate_sensor(s, site.hardware.backend, self.world, room.id, rng, self.clock)
            for room in self.rooms
            for s in room.sensors
        }
        self._synced = simulated or clock_synced()
        self.alarms = Alarms(self.event, self.clock.monotonic)
        self.controls = {
            room.id: RoomControl(
                room,
                relay=functools.partial(self.board.relay, room.id),
                tank_full=functools.partial(self.board.tank_full, room.id),
                alarms=self.alarms,
                event=self.event,
                now=self.clock.monotonic(),
            )
            for room in self.rooms
        }
        self.settings = Settings(site.outbox_path(gateway_id).with_name("settings.json"))
        if self.settings.damaged:
            log.error("%s", self.settings.damaged)
        for room_id, band in (self.settings.get("humidity_bands") or {}).items():
            try:
                self.controls[room_id].hygrostat.set_band(*band)
            except (KeyError, TypeError, ValueError) as exc:  # a room since removed, a band now invalid
                log.error("ignored the saved humidity band of %s (%s); using the config's", room_id, exc)
        # Sampling and commands (on the link's thread) both switch relays: one decision at a time.
        self._control_lock = threading.Lock()

        self.topics = protocol.Topics(site.site.id, gateway_id)
        self.outbox = Outbox(site.outbox_path(gateway_id))
        self.link = Link(
            outbox=self.outbox,
            topics=self.topics,
            host=broker_host or site.broker.host,
            port=broker_port or site.broker.port,
            username=gateway_id,
            password=password,
            keepalive=site.broker.keepalive_s,
            now=self.now,
            on_session=self._on_session,
            on_command=self._on_command,
        )
        self._wire_doors()

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    # -- running ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Sample every sensor on its interval until `stop` is set, then shut down cleanly."""
        log.info(
            "gateway %s: %d room(s), %d sensor(s), outbox %s (%d pending, last seq %d)",
            self.gateway.id,
            len(self.rooms),
            len(self.samplers),
            self.outbox.path,
            self.outbox.pending(),
            self.outbox.last_seq(),
        )
        if self.world:
            self.world.start()
        self.link.start()
        try:
            while not stop.is_set():
                now = self.clock.monotonic()
                for key, sampler in self.samplers.items():
                    if sampler.next_due <= now:
                        self._sample(*key)
                due = min((s.next_due for s in self.samplers.values()), default=now + 1.0)
                wait = due - self.clock.monotonic()
                if wait > 0:
                    self.clock.wait(stop, wait)
        finally:
            self.close()

    def close(self) -> None:
        self.link.stop()
        for sampler in self.samplers.values():
            sampler.close()
        if self.world:
            self.world.stop()
        self.board.close()
        self.outbox.close()

    # -- sensing and control ------------------------------------------------------------------

    def _sample(self, room_id: str, sensor_id: str) -> None:
        sampler = self.samplers[room_id, sensor_id]
        try:
            sample = sampler.poll()
        except Exception as exc:  # a driver bug must not stop the gateway: report it and go on
            log.exception("sensor %s/%s raised", room_id, sensor_id)
            sample = ClimateSample(None, None, "failed", f"{type(exc).__name__}: {exc}")
            sampler.next_due = self.clock.monotonic() + sampler.sensor.interval_s
        if sample is None:  # a failed read, to be tried again shortly
            return
        self._publish_reading(room_id, sensor_id, sample)
        self._note_sensor_state(room_id, sensor_id, sample)
        self._control(room_id, sensor_id, sample)

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

    def _control(self, room_id: str, sensor_id: str | None = None, sample: ClimateSample | None = None) -> None:
        with self._control_lock:
            self.controls[room_id].update(self.clock.monotonic(), sensor_id, sample)

    def _wire_doors(self) -> None:
        for room in self.rooms:
            for door in room.doors:
                contact = self.board.door(room.id, door.id)
                # The reed contact is closed (pressed) while the door is shut.
                contact.when_released = self._door_handler(room, door.id, opened=True)
                contact.when_pressed = self._door_handler(room, door.id, opened=False)

    def _door_handler(self, room: Room, door_id: str, *, opened: bool) -> Callable[[], None]:
        def handler() -> None:
            self.event(
                "door",
                room=room.id,
                device=door_id,
                message=f"{door_id} {'opened' if opened else 'closed'}",
                data={"open": opened},
            )

        return handler

    # -- publishing ---------------------------------------------------------------------------

    def _publish_reading(self, room_id: str, sensor_id: str, sample: ClimateSample) -> None:
        self._put(
            self.topics.telemetry(room_id, sensor_id),
            lambda seq: protocol.Reading(
                **self._envelope(seq),
                room=room_id,
                sensor=sensor_id,
                state=sample.state,
                temperature_c=sample.temperature_c,
                humidity_rh=sample.humidity_rh,
                error=sample.error,
                age_s=sample.age_s,
            ),
        )

    def event(self, kind: str, **fields: object) -> None:
        """Queue one event (see protocol.Event for the fields)."""
        self._put(self.topics.event(kind), lambda seq: protocol.Event(**self._envelope(seq), kind=kind, **fields))

    def _put(self, topic: str, build: Callable[[int], protocol._Payload]) -> None:
        self.outbox.put(topic, lambda seq: build(seq).to_json())
        self.link.notify()

    def _envelope(self, seq: int) -> dict[str, object]:
        return {"id": protocol.new_id(), "seq": seq, "ts": self.now(), "synced": self._synced}

    # -- sessions and commands ----------------------------------------------------------------

    def _set_band(self, args: dict[str, object]) -> tuple[bool, str]:
        """`set_band` {room, low, high}: a room's humidity target band, applied at once and kept."""
        room, low, high = args.get("room"), args.get("low"), args.get("high")
        if room not in self.controls:
            return False, f"room {room!r} is not on this gateway ({', '.join(self.controls)})"
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            return False, "low and high must be numbers (% RH)"
        try:
            self.controls[room].hygrostat.set_band(float(low), float(high))
        except ValueError as exc:
            return False, str(exc)
        bands = dict(self.settings.get("humidity_bands") or {})
        bands[room] = [float(low), float(high)]
        self.settings.set("humidity_bands", bands)
        self._control(room)
        self._birth(self.link.session)  # the dashboard sees the band now in force
        return True, f"{room}: humidity band {low}-{high} % RH applied"

    def _on_session(self, session: int) -> None:
        """Every new connection starts with a birth: the dashboard learns the whole current state."""
        self._birth(session)

    def _birth(self, session: int) -> None:
        rooms = [
            protocol.RoomState(
                id=room.id,
                name=room.name,
                sensors=[s.id for s in room.sensors],
                relays=[
                    protocol.RelayState(id=r.id, kind=r.kind, on=bool(self.board.relay(room.id, r.id).value))
                    for r in room.relays
                ],
                doors=[
                    protocol.DoorState(id=d.id, open=not self.board.door(room.id, d.id).is_pressed) for d in room.doors
                ],
                humidity_band=self.controls[room.id].hygrostat.band,
            )
            for room in self.rooms
        ]
        self._put(
            self.topics.birth,
            lambda seq: protocol.Birth(
                **self._envelope(seq),
                session=session,
                name=self.gateway.name,
                software=f"storeroom {__version__}",
                rooms=rooms,
            ),
        )

    def _on_command(self, message: protocol.Message) -> None:
        command = message.payload
        name = message.topic.rsplit("/", 1)[-1]
        if name == "rebirth":
            self._birth(self.link.session)
            # The sampling thread may add a sensor's first sample meanwhile: iterate over copies.
            for room_id, control in list(self.controls.items()):
                for sensor_id, sample in list(control.samples.items()):
                    self._publish_reading(room_id, sensor_id, sample)
            ok, detail = True, "state republished"
        elif name == "set_band":
            ok, detail = self._set_band(command.args)
        else:
            ok, detail = False, f"unknown command {name!r}"
        log.info("command %s from %s: %s", name, command.by or "?", detail)
        self._put(
            self.topics.ack(name),
            lambda seq: protocol.Ack(**self._envelope(seq), command=name, command_id=command.id, ok=ok, detail=detail),
        )
