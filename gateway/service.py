"""One gateway, wired: its board and sensors, its climate control, its outbox and its broker link.

Control never waits for the network: readings, relay decisions and door events go into the outbox and
on to the devices at once; the link sends the outbox whenever the broker is reachable.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from gateway import protocol
from gateway.climate import RoomControl
from gateway.controller import Controller
from gateway.disk import DiskWatch
from gateway.link import Link
from gateway.loans import LoanDesk
from gateway.outbox import Outbox
from gateway.settings import Settings
from gateway.stands import Stands
from gateway.timesync import clock_synced
from gateway.uploads import PageUploads
from hardware.clock import Clock, SimClock, WallClock
from hardware.config import SiteConfig
from rfid.keys import RfidKeyError
from rfid.reader import ReaderFault, TagRead
from rfid.service import ReaderError, ReaderService, open_readers
from sensors.climate import ClimateSample
from storeroom import __version__

log = logging.getLogger(__name__)

ROOM_VALUE_EVERY_S = 60.0
"""How often a room's own value is sent while the sensors it comes from stay the same."""
MAX_OVERRIDE_MIN = 24 * 60
STOCKTAKE_SHARE = 0.2
SIM_LOAN_S = 600.0
"""How long the simulated keeper's borrowers keep a dossier before it is brought back (simulated seconds)."""
"""Of the simulated keeper's turns at the readers, the share that are a stocktake of the next shelf."""
"""An override lasts a day at most: nobody should forget a room on manual."""


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
        station_listen: str | None = None,
    ) -> None:
        self.site = site
        self.gateway = site.gateway(gateway_id)
        self.rooms = site.rooms_of(gateway_id)
        simulated = site.hardware.backend == "sim"
        self.clock = clock or (SimClock(site.hardware.sim.speed) if simulated else WallClock())
        self._synced = simulated or clock_synced()
        self.controller = Controller(
            site,
            gateway_id,
            self.clock,
            on_reading=self._publish_reading,
            on_event=self.event,
            on_room=self._publish_room,
        )
        self._room_sent: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.world = self.controller.world
        try:
            self.readers = open_readers(site, gateway_id)
        except (ReaderError, RfidKeyError) as exc:  # no reader must cost the rooms their climate control
            log.error("%s; the gateway runs without RFID readers", exc)
            self.readers = []
        self.reader_service = ReaderService(self.readers, self._on_reader_event)
        self.topics = protocol.Topics(site.site.id, gateway_id)
        self.outbox = Outbox(site.outbox_path(gateway_id))
        self.loan_desk = LoanDesk(site, site.outbox_path(gateway_id).with_name("loans.json"), self.now, self.event)
        # Dossier pages from the copy stands: each page queued for the dashboard, its files sent over HTTP.
        self.uploads = PageUploads(site, gateway_id, self.event, self.clock, password=password)
        self.disk = DiskWatch(
            [site.outbox_path(gateway_id).parent, site.pages_dir(gateway_id)],
            site.storage.warn_free_mb,
            site.storage.min_free_mb,
            self.controller.alarms,
            self.clock.monotonic,
        )
        self.stands = Stands(
            site,
            gateway_id,
            self.clock,
            self.controller.pins,
            self.readers,
            self.event,
            on_page=self.uploads.submit_page,
            on_end=self.uploads.submit_dossier,
            station_listen=station_listen,
            room_for_pages=self.disk.room_for_pages,
        )
        self.uploads.in_use = self.stands.open_dossiers
        self.keeper = None
        shelf_readers = [r for r in self.readers if r.config.id not in self.stands.readers]
        if simulated and shelf_readers and site.hardware.sim.tag_scans_per_hour > 0:
            from hardware.shelving import Shelving
            from rfid.keys import signing_key
            from rfid.sim_keeper import (
                DOSSIERS,
                SimulatedKeeper,  # the simulated storeroom's people: never on a Pi
            )

            rate = site.hardware.sim.tag_scans_per_hour
            shelving = Shelving(site, DOSSIERS)
            shelving.plant_demo_mistakes()
            points = {p.code for p in site.tracking.points}
            self.keeper = SimulatedKeeper(
                shelf_readers, self.clock, *signing_key(site), rate, f"keeper/{gateway_id}",
                shelving=shelving, stations=[r.config.id for r in shelf_readers if r.config.location not in points],
                stocktake_share=STOCKTAKE_SHARE, desk_work=lambda: self.loan_desk.desk_work(SIM_LOAN_S),
                desks=[r.config.id for r in shelf_readers if self.loan_desk.kinds.get(r.config.id) == "desk"],
                doors=[r.config.id for r in shelf_readers if self.loan_desk.kinds.get(r.config.id) == "door"],
            )  # fmt: skip
        self.board = self.controller.board
        self.controls = self.controller.controls
        self.doors = self.controller.doors
        self.settings = Settings(site.outbox_path(gateway_id).with_name("settings.json"))
        if self.settings.damaged:
            log.error("%s", self.settings.damaged)
        for room_id, band in (self.settings.get("humidity_bands") or {}).items():
            try:
                self.controls[room_id].hygrostat.set_band(*band)
            except (KeyError, TypeError, ValueError) as exc:  # a room since removed, a band now invalid
                log.error("ignored the saved humidity band of %s (%s); using the config's", room_id, exc)

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
            len(self.controller.samplers),
            self.outbox.path,
            self.outbox.pending(),
            self.outbox.last_seq(),
        )
        if self.world:
            self.world.start()
        self.link.start()
        self.uploads.start()
        self.reader_service.start()
        self.stands.start()
        if self.doors:
            self.doors.start()
        if self.keeper:
            self.keeper.start()
        try:
            while not stop.is_set():
                self.controller.step()
                self.disk.check()
                self.loan_desk.check_overdue()
                wait = self.controller.next_due() - self.clock.monotonic()
                if wait > 0:
                    self.clock.wait(stop, wait)
        finally:
            self.close()

    def close(self) -> None:
        if self.keeper:
            self.keeper.stop()
        self.stands.stop()
        self.reader_service.stop()
        if self.doors:
            self.doors.stop()
        self.uploads.close()
        self.link.stop()
        if self.world:
            self.world.stop()
        self.controller.close()
        self.outbox.close()

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

    def _publish_room(self, control: RoomControl) -> None:
        """The room's own value, when the sensors it comes from change, else once every ROOM_VALUE_EVERY_S.

        Every sample changes it a little; sending it each time would double the traffic for nothing the
        sensors' own readings do not already say.
        """
        now, value = self.clock.monotonic(), control.value
        sent_at, used = self._room_sent.get(control.room.id, (-math.inf, ()))
        if value.used == used and now - sent_at < ROOM_VALUE_EVERY_S:
            return
        self._room_sent[control.room.id] = (now, value.used)
        mould = None if control.room.outdoor else round(control.watch.mould_index, 3)
        self._put(
            self.topics.climate(control.room.id),
            lambda seq: protocol.RoomValue(
                **self._envelope(seq),
                room=control.room.id,
                temperature_c=value.temperature_c,
                humidity_rh=value.humidity_rh,
                used=list(value.used),
                mould_index=mould,
            ),
        )

    def _on_reader_event(self, event: TagRead | ReaderFault) -> None:
        """A tag presented at a reader is a `tag_read` event; a reader that fails is an alarm until it recovers."""
        if isinstance(event, ReaderFault):
            self.controller.alarms.set(
                "reader_fault",
                not event.recovered,
                device=event.reader,
                severity="warning",
                message=f"RFID reader {event.reader} at {event.location}: {event.detail}",
                cleared_message=f"RFID reader {event.reader} reads again",
            )
            return
        self.stands.on_tag(event)
        if self.doors and self.doors.tag(event.reader, event.valid, event.kind, event.code, event.reason):
            return  # a door's reader: the tag was decided as a badge, an `access` event says how
        what = f"{event.kind} {event.code}" if event.valid else f"invalid tag ({event.reason})"
        self.event(
            "tag_read",
            device=event.reader,
            message=f"{what} at {event.location}",
            data={k: v for k, v in event.as_dict().items() if k != "detail"} | {"detail": event.detail[:200]},
        )
        if event.valid and event.kind == "dossier" and event.code:
            self.loan_desk.on_dossier(event.reader, event.code)  # checkout, return, or an alarm at a door

    def event(self, kind: str, **fields: object) -> None:
        """Queue one event (see protocol.Event for the fields)."""
        self._put(self.topics.event(kind), lambda seq: protocol.Event(**self._envelope(seq), kind=kind, **fields))

    def _put(self, topic: str, build: Callable[[int], protocol._Payload]) -> None:
        self.outbox.put(topic, lambda seq: build(seq).to_json())
        self.link.notify()

    def _envelope(self, seq: int) -> dict[str, object]:
        return {"id": protocol.new_id(), "seq": seq, "ts": self.now(), "synced": self._synced}

    # -- sessions and commands ----------------------------------------------------------------

    def _not_here(self, room: object) -> str:
        return f"room {room!r} is not on this gateway ({', '.join(self.controls)})"

    def _set_band(self, args: dict[str, object]) -> tuple[bool, str]:
        """`set_band` {room, low, high}: a room's humidity target band, applied at once and kept."""
        room, low, high = args.get("room"), args.get("low"), args.get("high")
        if room not in self.controls:
            return False, self._not_here(room)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            return False, "low and high must be numbers (% RH)"
        try:
            self.controls[room].hygrostat.set_band(float(low), float(high))
        except ValueError as exc:
            return False, str(exc)
        bands = dict(self.settings.get("humidity_bands") or {})
        bands[room] = [float(low), float(high)]
        self.settings.set("humidity_bands", bands)
        self.controller.control(room)
        self._birth(self.link.session)  # the dashboard sees the band now in force
        return True, f"{room}: humidity band {low}-{high} % RH applied"

    def _override(self, args: dict[str, object]) -> tuple[bool, str]:
        """`override` {room, mode: on|off|auto, minutes}: force a room's dehumidifiers for a while.

        Kept in memory only: after a restart of the gateway its rooms are under their hygrostats again,
        the safe default. Compressor protection and the safety stops still apply.
        """
        room, mode, minutes = args.get("room"), args.get("mode"), args.get("minutes", 60)
        if room not in self.controls:
            return False, self._not_here(room)
        if mode not in ("on", "off", "auto"):
            return False, f"mode must be on, off or auto, not {mode!r}"
        if mode != "auto" and not (
            isinstance(minutes, int | float) and not isinstance(minutes, bool) and 1 <= minutes <= MAX_OVERRIDE_MIN
        ):
            return False, f"minutes must be a number from 1 to {MAX_OVERRIDE_MIN}"
        until = self.clock.monotonic() + float(minutes) * 60  # type: ignore[arg-type]
        self.controls[room].hygrostat.set_override(None if mode == "auto" else mode, until)  # type: ignore[arg-type]
        self.controller.control(room)
        self._birth(self.link.session)
        if mode == "auto":
            return True, f"{room}: override ended, the hygrostat decides"
        return True, f"{room}: dehumidifiers {mode} for {minutes:g} min"

    def _unlock(self, args: dict[str, object], by: str) -> tuple[bool, str]:
        """`unlock` {room, door?, reason}: one strike pulse from the dashboard; the reason goes in the log."""
        room, door, reason = args.get("room"), args.get("door"), args.get("reason")
        if not self.doors:
            return False, "this gateway has no door with a strike"
        if not isinstance(room, str) or not (door is None or isinstance(door, str)):
            return False, "room (and door, if given) must be ids"
        if not isinstance(reason, str) or not reason.strip():
            return False, "a remote unlock needs a reason"
        return self.doors.remote_unlock(room, door, by or "?", reason[:200])

    def _on_permissions(self, document: protocol.PermissionDocument) -> None:
        """The retained permission document: checked, run, kept; acknowledged with the version in force."""
        if not self.doors:
            return
        if self.doors.version == document.version and self.doors.rules.document == document:
            return  # the retained copy again, on reconnect
        ok, detail = self.doors.apply(document)
        self._put(
            self.topics.ack("permissions"),
            lambda seq: protocol.Ack(
                **self._envelope(seq), command="permissions", command_id=f"v{document.version}", ok=ok, detail=detail
            ),
        )
        self._birth(self.link.session)  # the dashboard sees the version in force

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
                    protocol.DoorState(
                        id=d.id,
                        open=not self.board.door(room.id, d.id).is_pressed,
                        locked=self.doors.locked(room.id, d.id) if self.doors else None,
                    )
                    for d in room.doors
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
                permissions_version=self.doors.version if self.doors else None,
            ),
        )

    def _on_command(self, message: protocol.Message) -> None:
        if isinstance(message.payload, protocol.PermissionDocument):
            self._on_permissions(message.payload)
            return
        command = message.payload
        name = message.topic.rsplit("/", 1)[-1]
        if name == "unlock":
            ok, detail = self._unlock(command.args, command.by)
        elif name == "rebirth":
            self._birth(self.link.session)
            # The sampling thread may add a sensor's first sample meanwhile: iterate over copies.
            for room_id, control in list(self.controls.items()):
                for sensor_id, sample in list(control.samples.items()):
                    self._publish_reading(room_id, sensor_id, sample)
            ok, detail = True, "state republished"
        elif name == "set_band":
            ok, detail = self._set_band(command.args)
        elif name == "override":
            ok, detail = self._override(command.args)
        elif name == "loans" and isinstance(command, protocol.LoanList):
            ok, detail = self.loan_desk.apply(command)
        else:
            ok, detail = False, f"unknown command {name!r}"
        log.info("command %s from %s: %s", name, getattr(command, "by", "") or "dashboard", detail)
        self._put(
            self.topics.ack(name),
            lambda seq: protocol.Ack(**self._envelope(seq), command=name, command_id=command.id, ok=ok, detail=detail),
        )
