"""Room climate on the gateway: one value from a room's sensors, its dehumidifiers run by its hygrostat,
and the alarms about both. It runs on every sample and never waits for the network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

from gateway.alarms import Alarms
from gateway.climate_watch import ClimateWatch
from gateway.hygrostat import Decision, Hygrostat
from hardware.config import Relay, Room
from sensors.climate import ClimateSample


@dataclass(frozen=True)
class RoomClimate:
    """One value per room from its usable sensors, and which sensors those were."""

    temperature_c: float | None
    humidity_rh: float | None
    used: tuple[str, ...]


def combine(samples: dict[str, ClimateSample]) -> RoomClimate:
    """Median of the sensors that read ok or degraded; a failed or stale sensor is left out."""
    usable = {sid: s for sid, s in samples.items() if s.usable}
    if not usable:
        return RoomClimate(None, None, ())
    temps = [s.temperature_c for s in usable.values() if s.temperature_c is not None]
    return RoomClimate(
        temperature_c=round(median(temps), 2) if temps else None,
        humidity_rh=round(median(s.humidity_rh for s in usable.values()), 2),
        used=tuple(sorted(usable)),
    )


class RoomControl:
    """One room: its sensors' samples in, its relays switched, its alarms raised and cleared.

    `relay(unit_id)` gives the unit's gpiozero output, `tank_full(unit_id)` its float switch; `event(kind,
    **fields)` queues an event. Nothing here waits for the network.
    """

    def __init__(
        self,
        room: Room,
        *,
        relay: Callable[[str], Any],
        tank_full: Callable[[str], bool],
        alarms: Alarms,
        event: Callable[..., None],
        now: float,
    ) -> None:
        self.room = room
        self.relay = relay
        self.tank_full = tank_full
        self.alarms = alarms
        self.event = event
        self.samples: dict[str, ClimateSample] = {}
        self.value = RoomClimate(None, None, ())
        self.hygrostat = Hygrostat(room.climate, [r.id for r in room.relays], now)
        self.watch = ClimateWatch(room.id, room.climate, alarms)

    def update(self, now: float, sensor_id: str | None = None, sample: ClimateSample | None = None) -> None:
        """Take a new sample (if any) and decide again: relays, then alarms."""
        if sensor_id is not None and sample is not None:
            self.samples[sensor_id] = sample
        self.value = combine(self.samples)
        if self.room.outdoor:
            return  # outside air is measured, not controlled, and pages nobody
        tanks = {r.id: self.tank_full(r.id) for r in self.room.relays}
        decision = self.hygrostat.step(now, self.value.humidity_rh, tanks)
        for relay in self.room.relays:
            self._apply(relay, decision)
        self._alarms(decision)
        self.watch.update(now, self.value.temperature_c, self.value.humidity_rh)

    def _apply(self, relay: Relay, decision: Decision) -> None:
        want = decision.units[relay.id]
        device = self.relay(relay.id)
        if bool(device.value) == want:
            return
        device.value = want
        why = (
            "tank full"
            if relay.id in decision.tank_full
            else "not lowering humidity"
            if relay.id in decision.ineffective
            else f"override {decision.override}"
            if decision.override
            else "no usable humidity: fail-safe"
            if decision.fail_safe
            else "humidity"
        )
        self.event(
            "relay",
            room=self.room.id,
            device=relay.id,
            message=f"{relay.kind} {relay.id} {'on' if want else 'off'} ({why})",
            data={"on": want, "kind": relay.kind, "humidity_rh": self.value.humidity_rh, "reason": why},
        )

    def _alarms(self, decision: Decision) -> None:
        room, control = self.room.id, self.room.climate.control
        self.alarms.set(
            "climate_fail_safe",
            decision.fail_safe,
            room=room,
            message=f"no usable humidity in {room}: dehumidifiers {control.fail_safe} until a sensor reads again",
            cleared_message=f"{room} has a humidity value again ({', '.join(self.value.used)})",
        )
        hours, drop = control.ineffective_after_s / 3600, control.ineffective_drop_rh
        for relay in self.room.relays:
            unit = relay.id
            for kind, active, severity, message, cleared in (
                ("dehumidifier_tank_full", decision.tank_full, "alarm", "tank full, unit stopped; empty it", "emptied"),
                (
                    "dehumidifier_fault",
                    decision.ineffective,
                    "alarm",
                    f"ran {hours:g} h without lowering humidity by {drop:g} % RH: stopped, "
                    f"tried again in {control.lockout_s / 60:.0f} min",
                    "tried again",
                ),
                (
                    "dehumidifier_long_run",
                    decision.long_run,
                    "warning",
                    f"has run over {control.max_run_s / 3600:g} h without a rest",
                    "rests",
                ),
            ):
                self.alarms.set(
                    kind,
                    unit in active,
                    room=room,
                    device=unit,
                    severity=severity,
                    message=f"{unit}: {message}",
                    cleared_message=f"{unit}: {cleared}",
                )
