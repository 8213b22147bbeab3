"""The copy stands of one gateway, wired: camera, pedal and done button, station page, and session.

A tag read at a stand's reader belongs to the stand (it opens or closes a session) and is also logged
like any other read. On the simulated storeroom each stand has a scene for its camera to look at and,
when the config asks, a simulated keeper who digitizes dossiers.
"""

from __future__ import annotations

import logging

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

from gateway.copystand import CopyStandSession, Event, OnEnd, OnPage, RoomForPages
from gateway.station import StationServer, create_station
from hardware.clock import Clock
from hardware.config import SiteConfig
from rfid.reader import TagRead
from rfid.service import OpenedReader
from vision.camera import open_camera
from vision.standsim import StandScene

log = logging.getLogger(__name__)


class Stands:
    def __init__(
        self,
        site: SiteConfig,
        gateway_id: str,
        clock: Clock,
        pins: Factory,
        readers: list[OpenedReader],
        event: Event,
        on_page: OnPage | None = None,
        on_end: OnEnd | None = None,
        station_listen: str | None = None,
        room_for_pages: RoomForPages | None = None,
    ) -> None:
        """`station_listen` overrides the stands' own `station_listen` (the demo picks a free port)."""
        simulated = site.hardware.backend == "sim"
        self.sessions: dict[str, CopyStandSession] = {}
        self.by_reader: dict[str, CopyStandSession] = {}
        self.servers: list[StationServer] = []
        self.keepers: list = []
        self._buttons: list[DigitalInputDevice] = []
        by_id = {r.config.id: r for r in readers}
        for stand in site.copy_stands_of(gateway_id):
            scene = StandScene() if simulated else None
            session = CopyStandSession(
                stand,
                open_camera(stand, scene=scene),
                site.pages_dir(gateway_id),
                clock,
                event=event,
                on_page=on_page,
                on_end=on_end,
                room_for_pages=room_for_pages,
            )
            self.sessions[stand.id] = session
            self.by_reader[stand.reader] = session
            for pin, kind in ((stand.pedal_pin, "shoot"), (stand.done_pin, "done")):
                if pin is not None:
                    self._buttons.append(self._button(pin, pins, session, kind))
            listen = station_listen or stand.station_listen
            try:
                self.servers.append(StationServer(create_station(session, site.dashboard.language), listen))
            except OSError as exc:  # a port taken must not cost the gateway its stand, let alone its rooms
                log.error("copy stand %s: no station page, %s is taken (%s)", stand.id, listen, exc)
            reader = by_id.get(stand.reader)
            per_hour = site.hardware.sim.stand_sessions_per_hour
            if simulated and scene is not None and reader is not None and reader.field is not None and per_hour > 0:
                from gateway.sim_stand_keeper import SimulatedStandKeeper  # simulated people: never on a Pi
                from rfid.keys import signing_key

                self.keepers.append(
                    SimulatedStandKeeper(
                        session, scene, reader, pins, clock, signing_key(site), per_hour, f"stand/{stand.id}"
                    )
                )

    @staticmethod
    def _button(pin: int, pins: Factory, session: CopyStandSession, kind: str) -> DigitalInputDevice:
        """A pedal or button closing to ground (the Pi's pull-up holds it high while released)."""
        button = DigitalInputDevice(pin, pull_up=True, pin_factory=pins)
        button.when_activated = lambda: session.submit(kind)
        return button

    @property
    def readers(self) -> set[str]:
        return set(self.by_reader)

    def on_tag(self, read: TagRead) -> None:
        """A read at a stand's reader: a dossier tag opens or closes its session; anything else is refused."""
        session = self.by_reader.get(read.reader)
        if session is None:
            return
        if read.valid and read.kind == "dossier" and read.code:
            session.submit("tag", read.code)
        else:
            session.submit("bad_tag", read.reason or f"a {read.kind} tag, not a dossier's")

    def start(self) -> None:
        for session in self.sessions.values():
            session.start()
        for server in self.servers:
            server.start()
        for keeper in self.keepers:
            keeper.start()

    def stop(self) -> None:
        for keeper in self.keepers:
            keeper.stop()
        for server in self.servers:
            server.stop()
        for session in self.sessions.values():
            session.stop()
        for button in self._buttons:
            button.close()

    def open_dossiers(self) -> set[str]:
        """The dossiers being digitized at this gateway's stands now: the uploader leaves their files alone."""
        return {code for session in self.sessions.values() if (code := session.view.dossier)}

    def station_urls(self) -> list[str]:
        return [server.url for server in self.servers]
