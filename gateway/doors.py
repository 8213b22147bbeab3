"""Door access on the gateway: badges in, strike pulses out, door alarms, the permission document.

`Doors` holds every door of a gateway that has access hardware (`[rooms.doors.access]`). A badge at a
reader (a Wiegand frame, or a badge tag at an MFRC522) is decided by `gateway.access.AccessRules` and
becomes an `access` event with its reason; a grant pulses the strike. The strike is never left unlocked
past its pulse: the deadline is set before the relay moves, `tick` locks it once the deadline passes
whatever went wrong before, and `Doors` runs its own thread for `tick`, apart from the sensors.

Alarms (gateway.alarms, raised once and cleared once): `door_forced` (opened while locked, without a grant),
`door_held_open` (open past `held_open_s`), `door_tamper` (the reader's tamper loop opened), `strike_fault`
(the lock's status switch disagrees with the relay), `emergency_release` (the fire panel freed the door).

The permission document arrives retained on `cmd/permissions`; it is checked (schema, site, HMAC with the
site's access key, version not older) and kept on disk as the last good one, so a restart without the
broker still runs it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway import protocol
from gateway.access import AccessRules, Decision
from gateway.alarms import Alarms
from hardware.access_key import AccessKeyError, access_key
from hardware.background import Background
from hardware.board import DoorContact
from hardware.clock import Clock
from hardware.config import Door, Room, SiteConfig, WiegandReader
from hardware.door_devices import DoorDevices
from hardware.wiegand import Credential, WiegandError

log = logging.getLogger(__name__)

OPEN_GRACE_S = 1.0
"""A door may still be seen opening this long after its pulse ended (the contact's callback is late)."""
TICK_AT_MOST_S = 0.5
"""The door thread looks at least this often, whatever is due."""


class DoorControl:
    """One door: its strike, inputs and alarms. Every method runs under the gateway's one door lock."""

    def __init__(
        self,
        room: Room,
        door: Door,
        devices: DoorDevices,
        contact: DoorContact,
        rules: AccessRules,
        alarms: Alarms,
        event: Callable[..., None],
        clock: Clock,
    ) -> None:
        assert door.access is not None
        self.room, self.door, self.config = room, door, door.access
        self.devices, self.contact, self.rules = devices, contact, rules
        self.alarms, self.event, self.clock = alarms, event, clock
        self.unlocked_until: float | None = None
        self.may_open_until = -1.0
        self.opened_at: float | None = None if contact.is_shut else clock.monotonic()
        self.mismatch_since: float | None = None
        self.emergency = False
        self.decisions = 0

    # -- inputs -------------------------------------------------------------------------------

    def badge(self, side: str, reader: str, badge: str | None, refusal: tuple[str, str] | None = None) -> Decision:
        """A badge presented (`badge` its number) or a read that is none (`refusal`: reason, detail)."""
        if badge is None:
            reason, detail = refusal or ("unreadable", "")
            decision = self.rules.refuse(self.room.id, self.door.id, side, reason, detail)
        else:
            decision = self.rules.decide(self.room.id, self.door.id, side, badge, self.clock.time())
        self.decisions += 1
        if decision.granted:
            self.unlock()
        pattern = "granted" if decision.granted else "waiting" if decision.reason.startswith("waiting") else "denied"
        try:
            self.devices.feedback(pattern, self.config.strike.pulse_s)
        except Exception:  # a buzzer is never worth a decision
            log.exception("feedback at %s/%s failed", self.room.id, self.door.id)
        self.event(
            "access",
            room=self.room.id,
            device=self.door.id,
            message=decision.message,
            data={**decision.as_data(), "reader": reader},
        )
        return decision

    def exit_request(self) -> None:
        """The request-to-exit button: free egress for one pulse."""
        self._unlocked_by("exit_button", "inside", f"{self.door.id} inside: exit button")

    def remote_unlock(self, by: str, reason: str) -> None:
        message = f"{self.door.id}: unlocked from the dashboard by {by}: {reason}"
        self._unlocked_by("remote_unlock", "outside", message, holder=by, detail=reason)

    def _unlocked_by(self, reason: str, side: str, message: str, **data: str) -> None:
        self.unlock()
        self.event(
            "access",
            room=self.room.id,
            device=self.door.id,
            message=message,
            data={"granted": True, "reason": reason, "side": side, **data},
        )

    def contact_changed(self, opened: bool) -> None:
        now = self.clock.monotonic()
        if not opened:
            self.opened_at = None
            self.alarms.set("door_held_open", False, room=self.room.id, device=self.door.id)
            self.alarms.set("door_forced", False, room=self.room.id, device=self.door.id, cleared_message="door shut")
            return
        self.opened_at = now
        if not self.devices.strike.unlocked and now > self.may_open_until and not self.emergency:
            self.alarms.set(
                "door_forced",
                True,
                room=self.room.id,
                device=self.door.id,
                message=f"{self.room.name}: {self.door.id} forced open (opened while locked, without a grant)",
            )

    # -- the strike ---------------------------------------------------------------------------

    def unlock(self) -> None:
        """One pulse; a grant during a pulse makes it last from now. The deadline is set before the relay moves."""
        now = self.clock.monotonic()
        self.unlocked_until = now + self.config.strike.pulse_s
        self.may_open_until = self.unlocked_until + OPEN_GRACE_S
        self._set_strike(True)

    def _set_strike(self, unlocked: bool) -> None:
        """Move the relay, then say so (`strike` event, `locked`), for the dashboard's door state. The relay
        moves first and the event cannot stop it: a full disk must not keep a door unlocked."""
        changed = self.devices.strike.unlocked != unlocked
        self.devices.strike.set_unlocked(unlocked)
        if not changed:
            return
        try:
            self.event(
                "strike",
                room=self.room.id,
                device=self.door.id,
                message=f"{self.door.id} {'unlocked' if unlocked else 'locked'}",
                data={"locked": not unlocked},
            )
        except Exception:
            log.exception("strike event at %s/%s failed", self.room.id, self.door.id)

    def next_due(self) -> float:
        """The next deadline of this door (inf: none): a pulse's end, a held-open or strike-fault delay."""
        due = [math.inf]
        if self.unlocked_until is not None and not self.emergency:
            due.append(self.unlocked_until)
        room, door = self.room.id, self.door.id
        if self.opened_at is not None and not self.alarms.is_active("door_held_open", room, door):
            due.append(self.opened_at + self.config.held_open_s)
        if self.mismatch_since is not None and not self.alarms.is_active("strike_fault", room, door):
            due.append(self.mismatch_since + self.config.strike.fault_after_s)
        return min(due)

    def tick(self) -> None:
        """Lock a strike whose pulse is over (first, whatever fails after), then watch the door's alarms."""
        now = self.clock.monotonic()
        try:
            self.emergency = self.devices.emergency_active
            if not self.emergency and self.unlocked_until is not None and now >= self.unlocked_until:
                self.unlocked_until = None
            want_unlocked = self.emergency or self.unlocked_until is not None
            if self.devices.strike.unlocked != want_unlocked:
                self._set_strike(want_unlocked)
        finally:
            # Whatever happened above, a strike past its pulse and without an emergency is locked.
            if not self.emergency and self.unlocked_until is None and self.devices.strike.unlocked:
                self._set_strike(False)
        self._watch(now)

    def _watch(self, now: float) -> None:
        room, door = self.room.id, self.door.id
        self.alarms.set(
            "emergency_release",
            self.emergency,
            room=room,
            device=door,
            message=f"{self.room.name}: {door} released by the emergency input (fire alarm)",
            cleared_message=f"{door}: emergency release over, locked again",
        )
        self.alarms.set(
            "door_tamper",
            self.devices.tampered,
            room=room,
            device=door,
            message=f"{self.room.name}: {door}: the reader's tamper loop is open",
            cleared_message=f"{door}: tamper loop closed again",
        )
        held = self.opened_at is not None and now - self.opened_at >= self.config.held_open_s
        if held and not self.alarms.is_active("door_held_open", room, door):
            self.alarms.set(
                "door_held_open",
                True,
                room=room,
                device=door,
                severity="warning",
                message=f"{self.room.name}: {door} open for over {self.config.held_open_s:g} s",
            )
        sensed = self.devices.strike.sensed_locked
        if sensed is None:
            return
        agrees = sensed != self.devices.strike.unlocked
        if agrees:
            self.mismatch_since = None
        elif self.mismatch_since is None:
            self.mismatch_since = now
        faulty = self.mismatch_since is not None and now - self.mismatch_since >= self.config.strike.fault_after_s
        commanded = "unlocked" if self.devices.strike.unlocked else "locked"
        if faulty != self.alarms.is_active("strike_fault", room, door):
            self.alarms.set(
                "strike_fault",
                faulty,
                room=room,
                device=door,
                message=f"{self.room.name}: {door}: strike commanded {commanded} but its switch says otherwise",
                cleared_message=f"{door}: strike follows its relay again",
            )

    def state(self) -> dict[str, Any]:
        return {"locked": not self.devices.strike.unlocked, "open": not self.contact.is_shut}


class Doors(Background):
    """Every door with access hardware on one gateway, their rules and their permission document."""

    thread_name = "doors"

    def __init__(
        self,
        site: SiteConfig,
        gateway_id: str,
        factory: Any,
        contact: Callable[[str, str], DoorContact],
        alarms: Alarms,
        event: Callable[..., None],
        clock: Clock,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.site, self.clock, self.event = site, clock, event
        self.on_change = on_change
        self.lock = threading.RLock()
        self.rules = AccessRules(ZoneInfo(site.site.timezone))
        self.path = site.outbox_path(gateway_id).with_name("permissions.json")
        self.doors: dict[tuple[str, str], DoorControl] = {}
        self._rfid: dict[str, tuple[DoorControl, str]] = {}
        self.refused_documents = 0
        try:
            for room in site.rooms_of(gateway_id):
                for door in room.doors:
                    if door.access is None:
                        continue
                    slot: dict[str, DoorControl] = {}
                    devices = DoorDevices(door, factory, lambda reader, slot=slot: self._frame_handler(slot, reader))
                    control = DoorControl(
                        room, door, devices, contact(room.id, door.id), self.rules, alarms, self._event, clock
                    )
                    slot["door"] = control
                    self.doors[room.id, door.id] = control
                    for reader in door.access.readers:
                        if reader.kind == "rfid":
                            self._rfid[reader.id] = (control, reader.side)
                    self._wire_inputs(control)
        except Exception:
            self.close()
            raise
        self._load_last_good()

    def _event(self, kind: str, **fields: Any) -> None:
        try:
            self.event(kind, **fields)
        except Exception:  # the outbox failing must not hold a door
            log.exception("could not queue the %s event", kind)

    # -- wiring -------------------------------------------------------------------------------

    def _frame_handler(self, slot: dict[str, DoorControl], reader: WiegandReader) -> Callable:
        def on_frame(frame: Credential | WiegandError) -> None:
            with self.lock:
                control = slot["door"]
                if isinstance(frame, WiegandError):
                    control.badge(reader.side, reader.id, None, ("unreadable", f"{frame.reason}: {frame}"))
                else:
                    control.badge(reader.side, reader.id, frame.number)
            self._changed()

        return on_frame

    def _wire_inputs(self, control: DoorControl) -> None:
        devices = control.devices

        def guarded(action: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                with self.lock:
                    action()
                self._changed()

            return run

        if devices.exit_button:
            devices.exit_button.when_activated = guarded(control.exit_request)
        for device in (devices.tamper_loop, devices.emergency):
            if device:
                device.when_activated = device.when_deactivated = guarded(control.tick)

    def _changed(self) -> None:
        if self.on_change:
            try:
                self.on_change()
            except Exception:
                log.exception("door state listener failed")

    def contact_changed(self, room_id: str, door_id: str, opened: bool) -> None:
        control = self.doors.get((room_id, door_id))
        if control:
            with self.lock:
                control.contact_changed(opened)

    def tag(self, reader_id: str, valid: bool, kind: str | None, code: str | None, reason: str | None) -> bool:
        """A tag at an MFRC522; True if that reader is a door's (then the tag was decided as a badge)."""
        if reader_id not in self._rfid:
            return False
        control, side = self._rfid[reader_id]
        with self.lock:
            if not valid:
                forged = reason in ("bad_mac", "unknown_key")
                control.badge(side, reader_id, None, ("forged_tag" if forged else "unreadable", reason or ""))
            elif kind != "badge":
                control.badge(side, reader_id, None, ("not_a_badge", f"a {kind} tag {code}"))
            else:
                control.badge(side, reader_id, code)
        self._changed()
        return True

    def remote_unlock(self, room_id: str, door_id: str | None, by: str, reason: str) -> tuple[bool, str]:
        doors = [c for (r, d), c in self.doors.items() if r == room_id and door_id in (None, d)]
        if not doors:
            return False, f"no door with a strike in {room_id!r}" + (f" called {door_id!r}" if door_id else "")
        if not reason.strip():
            return False, "a remote unlock needs a reason"
        with self.lock:
            for control in doors:
                control.remote_unlock(by, reason.strip())
        self._changed()
        return True, f"{room_id}: {', '.join(c.door.id for c in doors)} unlocked for one pulse"

    def locked(self, room_id: str, door_id: str) -> bool | None:
        control = self.doors.get((room_id, door_id))
        return None if control is None else not control.devices.strike.unlocked

    # -- running ------------------------------------------------------------------------------

    def next_due(self) -> float:
        """The doors' next deadline (inf: none); their own thread also looks every TICK_AT_MOST_S."""
        with self.lock:
            return min((c.next_due() for c in self.doors.values()), default=math.inf)

    def tick(self) -> None:
        for control in self.doors.values():
            with self.lock:
                try:
                    control.tick()
                except Exception:
                    log.exception("door %s/%s", control.room.id, control.door.id)

    def idle(self, timeout: float = 1.0) -> bool:
        """Wait until every Wiegand frame on the wire has been decided (simulation: before time moves on)."""
        return all(c.devices.idle(timeout) for c in self.doors.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            wait = min(self.next_due() - self.clock.monotonic(), TICK_AT_MOST_S)
            self.clock.wait(self._stop, max(wait, 0.01))

    def close(self) -> None:
        self.stop()
        for control in self.doors.values():
            control.devices.close()

    # -- the permission document --------------------------------------------------------------

    @property
    def version(self) -> int | None:
        return self.rules.version

    def apply(self, document: protocol.PermissionDocument) -> tuple[bool, str]:
        """Check and run a document that arrived; keep it on disk. (ok, what happened) for the ack."""
        ok, detail = self._check(document)
        if ok:
            with self.lock:
                self.rules.use(document)
            self._save(document)
        else:
            self.refused_documents += 1
            log.warning("permission document refused: %s", detail)
        self._event(
            "permissions",
            severity="info" if ok else "warning",
            message=detail,
            data={"version": document.version, "applied": ok, "running": self.version},
        )
        return ok, detail

    def _check(self, document: protocol.PermissionDocument) -> tuple[bool, str]:
        if document.site != self.site.site.id:
            return False, f"version {document.version} is for site {document.site!r}, not {self.site.site.id!r}"
        try:
            key = access_key(self.site)
        except AccessKeyError as exc:
            return False, f"version {document.version} cannot be checked: {exc}"
        if not document.verify(key):
            return False, f"version {document.version}: the signature does not match (altered, or another key)"
        current = self.rules.document
        if current is not None and document.version < current.version:
            return False, f"version {document.version} is older than version {current.version} in force"
        return True, f"permission document version {document.version} in force"

    def _save(self, document: protocol.PermissionDocument) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(document.to_json())
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)

    def _load_last_good(self) -> None:
        if not self.doors:
            return
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            log.warning("no permission document yet: every badge is refused until the dashboard sends one")
            return
        try:
            document = protocol.PermissionDocument.model_validate_json(raw)
            ok, detail = self._check(document)
        except (ValueError, json.JSONDecodeError) as exc:
            ok, detail = False, f"unreadable: {str(exc).splitlines()[0]}"
        if ok:
            self.rules.use(document)
            log.info("%s (kept in %s)", detail, self.path)
        else:
            damaged = Path(f"{self.path}.refused")
            self.path.replace(damaged)
            log.error("%s: %s; kept as %s, every badge refused until a new one arrives", self.path, detail, damaged)
