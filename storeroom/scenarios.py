"""Named scenarios on the accelerated simulated storeroom, and the report `storeroom sim run` writes.

A scenario takes a site (the demo's by default), changes its weather, rooms or devices, and schedules
what happens to the world (a sensor unplugged, a door left open). The run drives each gateway's real
`Controller` (sensors through Adafruit's driver on the modelled DHT22s, the hygrostats, the alarms) and the
world on one hand-moved clock, as fast as the machine goes, so a week takes seconds and the same seed
gives the same report.

To keep a week within seconds the sensors are read every 30 s through the driver's pulseio path; the
controller and its timings are the gateway's own.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.controller import Controller
from hardware.clock import ManualClock
from hardware.config import SiteConfig
from storeroom.access_scenarios import BADGES, ModelledBroker, door_events, grant_demo_permissions

HOUR = 3600.0
SERIES_EVERY_S = 600.0
"""The report's time series has a point every 10 minutes; share in band is measured every minute."""
BAND_EVERY_S = 60.0
SENSOR_INTERVAL_S = 30.0

SAFETY_STOPS = ("tank full", "not lowering humidity")
"""Relay reasons (gateway/climate.py) that stop a unit whatever its minimum run time."""

Action = tuple[float, Callable[[Any], None]]
"""(hours after the start, what to do to the gateway's world)."""


@dataclass
class Scenario:
    name: str
    description: str
    start: str
    """Local date and time the run starts (the weather's daily cycle follows the site's time zone)."""
    weather: dict[str, float]
    door_openings_per_hour: float = 0.5
    relays: dict[str, Any] = field(default_factory=dict)
    """Changes to every relay of the site, e.g. a small tank."""
    tank_emptied_after_h: float | None = None
    actions: list[Action] = field(default_factory=list)
    badge_visits_per_hour: float = 0.0
    """Simulated staff coming to each badge door at random (door access); the scripted visits are `actions`."""
    broker_down: tuple[float, float] | None = None
    """Hours between which the broker is out of reach: the gateway's events wait in its outbox meanwhile."""


def _in(room: str, what: Callable[..., None], *args: str) -> Callable[[Any], None]:
    """An action on the world that holds `room` (each gateway's world holds its own rooms only)."""

    def act(world: Any) -> None:
        if world.has_room(room):
            what(world, room, *args)

    return act


def _visit(*who: str, door: str = "entrance", room: str = "east-stack", **how: Any) -> Callable[[Any], None]:
    """People with the demo's badges come to a badge door together (hardware.world.World.visit)."""
    return _in(room, lambda w, r: w.visit(r, door, [BADGES[name] for name in who], **how))


SUMMER = {"temperature_c": 30.0, "daily_swing_c": 5.0, "humidity_rh": 85.0}
SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "humid-summer",
            "A sticky week of southern summer: 30 °C ± 5 outside at 85 % RH, doors opened a dozen times a day.",
            "2026-07-15T00:00",
            SUMMER,
        ),
        Scenario(
            "dry-winter",
            "A northern winter week in unheated stacks: -2 °C ± 4 outside at 45 % RH; dehumidifiers stay idle.",
            "2026-01-10T00:00",
            {"temperature_c": -2.0, "daily_swing_c": 4.0, "humidity_rh": 45.0},
            door_openings_per_hour=2.0,
        ),
        Scenario(
            "sensor-failure",
            "Humid summer; after 6 h the east stack's sensor comes unplugged for 3 h, and after 12 h the west "
            "stack's sensor hangs, repeating one frame.",
            "2026-07-15T00:00",
            SUMMER,
            actions=[
                (6.0, _in("east-stack", lambda w, r: w.unplug_sensor(r, "dht-1"))),
                (9.0, _in("east-stack", lambda w, r: w.plug_in_sensor(r, "dht-1"))),
                (12.0, _in("west-stack", lambda w, r: w.set_sensor_fault(r, "dht-1", "stuck"))),
            ],
        ),
        Scenario(
            "door-left-open",
            "Humid summer; the east stack's door is left open from the 4th to the 6th hour.",
            "2026-07-15T00:00",
            SUMMER,
            actions=[
                (4.0, _in("east-stack", lambda w, r: w.open_door(r, "main-door"))),
                (6.0, _in("east-stack", lambda w, r: w.close_door(r, "main-door"))),
            ],
        ),
        Scenario(
            "tank-full",
            "Humid summer with 2 l tanks on every dehumidifier; a keeper empties a full tank after 3 h.",
            "2026-07-15T00:00",
            SUMMER,
            relays={"tank_full_pin": 22, "tank_l": 2.0},
            tank_emptied_after_h=3.0,
        ),
        Scenario(
            "two-person-entry",
            "A Monday morning at the east stack's badge door (two-person rule): the keeper alone waits in vain, "
            "then comes back with the archivist; later both bring a visitor; then the facilities engineer and "
            "the administrator come together.",
            "2026-11-23T09:00",
            SUMMER,
            actions=[
                (0.1, _visit("keeper")),
                (0.25, _visit("keeper", "archivist", stay_s=1800)),
                (1.0, _visit("visitor-1", "keeper", "archivist", stay_s=900)),
                (1.5, _visit("facilities", "admin", stay_s=600, leave_by="badge")),
            ],
        ),
        Scenario(
            "after-hours",
            "A Monday evening: a pair enters at 17:15 within office hours; at 18:30 the same pair is refused, "
            "and the facilities engineer (any hours) alone still needs a second person.",
            "2026-11-23T17:00",
            SUMMER,
            actions=[
                (0.25, _visit("keeper", "archivist", stay_s=600)),
                (1.5, _visit("keeper", "archivist")),
                (2.0, _visit("facilities")),
            ],
        ),
        Scenario(
            "door-held-open",
            "A pair enters the east stack and forgets to close the door for 5 minutes: a held-open alarm.",
            "2026-11-23T10:00",
            SUMMER,
            actions=[(0.2, _visit("keeper", "archivist", forget_to_close=True, stay_s=1800))],
        ),
        Scenario(
            "forced-door",
            "A night at the east stack: a stranger's badge is refused, the reader's housing is opened, then the "
            "door is forced and left open for ten minutes.",
            "2026-11-23T01:00",
            SUMMER,
            actions=[
                (0.3, _visit("stranger")),
                (0.4, _in("east-stack", lambda w, r: w.set_tamper(r, "entrance", intact=False))),
                (0.5, _in("east-stack", lambda w, r: w.force_door(r, "entrance"))),
                (0.67, _in("east-stack", lambda w, r: w.close_door(r, "entrance"))),
                (1.0, _in("east-stack", lambda w, r: w.set_tamper(r, "entrance", intact=True))),
            ],
        ),
        Scenario(
            "broker-down-entry",
            "The broker is out of reach from 0.5 h to 2 h: pairs still enter, a stranger is still refused, and the "
            "log reaches the broker when it is back (each event's sent_s).",
            "2026-11-23T09:00",
            SUMMER,
            broker_down=(0.5, 2.0),
            actions=[
                (0.25, _visit("keeper", "archivist", stay_s=600)),
                (0.75, _visit("keeper", "archivist", stay_s=900)),
                (1.25, _visit("stranger")),
                (1.5, _visit("facilities", "admin", stay_s=600)),
            ],
        ),
    )
}


def scenario_site(
    site: SiteConfig, scenario: Scenario, seed: int | None = None, storage: Path | None = None
) -> SiteConfig:
    """The site as the scenario changes it: its weather, doors, relays and sensor timing (and where the
    gateways keep their files, so a run never touches the site's own)."""
    raw = site.model_dump(exclude={"source"})
    if storage is not None:
        raw["storage"] = {"dir": storage}
    sim = raw["hardware"]["sim"]
    sim["weather"].update(scenario.weather)
    sim["door_openings_per_hour"] = scenario.door_openings_per_hour
    sim["badge_visits_per_hour"] = scenario.badge_visits_per_hour
    if scenario.tank_emptied_after_h is not None:
        sim["tank_emptied_after_h"] = scenario.tank_emptied_after_h
    if seed is not None:
        sim["seed"] = seed
    raw["hardware"]["backend"] = "sim"
    for room in raw["rooms"]:
        for sensor in room["sensors"]:
            sensor["interval_s"] = SENSOR_INTERVAL_S
            sensor["decode"] = "pulseio"
        for relay in room["relays"]:
            relay.update(scenario.relays)
    return SiteConfig.model_validate({**raw, "source": site.source}, strict=False)


class _Recorder:
    """Events of one gateway's controller, timed on the run's clock."""

    def __init__(self, clock: ManualClock, start: float) -> None:
        self.clock = clock
        self.start = start
        self.events: list[dict[str, Any]] = []
        self.queue: Callable[[dict[str, Any]], None] | None = None
        """Also hands each event to the gateway's outbox (`_Broker`), where one is modelled."""

    def reading(self, room: str, sensor: str, sample: Any) -> None:
        """Readings are not part of the report: its series is the rooms' true climate, from the world."""

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append({"t_s": round(self.clock.time() - self.start, 1), "kind": kind, **fields})
        if self.queue:
            self.queue(self.events[-1])


def run(site: SiteConfig, scenario: Scenario, hours: float, seed: int | None = None) -> dict[str, Any]:
    """Run `scenario` for `hours` of simulated time; the report as `storeroom sim run` writes it."""
    with tempfile.TemporaryDirectory(prefix="storeroom-sim-") as folder:
        return _run(scenario_site(site, scenario, seed, Path(folder)), scenario, hours)


def _run(site: SiteConfig, scenario: Scenario, hours: float) -> dict[str, Any]:
    zone = ZoneInfo(site.site.timezone)
    start = datetime.fromisoformat(scenario.start).replace(tzinfo=zone).timestamp()
    clock = ManualClock(start)
    recorders = {gw.id: _Recorder(clock, start) for gw in site.gateways}
    controllers = {
        gw.id: Controller(site, gw.id, clock, on_reading=recorders[gw.id].reading, on_event=recorders[gw.id].event)
        for gw in site.gateways
    }
    broker = ModelledBroker(site, scenario.broker_down, start, recorders)
    grant_demo_permissions(site, controllers)
    rooms = {room.id: room for room in site.rooms if not room.outdoor}
    world_of = {room.id: controllers[room.gateway].world for room in site.rooms}
    series: dict[str, list[dict[str, float]]] = {r: [] for r in rooms}
    outside: list[dict[str, float]] = []
    weather = next(iter(controllers.values())).world
    in_band = dict.fromkeys(rooms, 0)
    band_checks = 0
    actions = sorted(scenario.actions, key=lambda a: a[0])
    end = start + hours * HOUR
    next_band, next_series = start, start
    try:
        while True:
            now = clock.time()
            while actions and start + actions[0][0] * HOUR <= now:
                _, act = actions.pop(0)
                for controller in controllers.values():
                    act(controller.world)
            if now >= next_band:
                band_checks += 1
                for room_id, room in rooms.items():
                    temperature, humidity = world_of[room_id].climate(room_id)
                    band = controllers[room.gateway].controls[room_id].hygrostat.band
                    in_band[room_id] += band[0] <= humidity <= band[1]
                    if now >= next_series:
                        series[room_id].append(_point(now - start, temperature, humidity))
                next_band += BAND_EVERY_S
                if now >= next_series:
                    outside.append(_point(now - start, *weather.outside(now)))
                    next_series += SERIES_EVERY_S
            broker.deliver(now)
            if now >= end:
                break
            for controller in controllers.values():
                controller.step()
            due = min(
                [c.next_due() for c in controllers.values()]
                + [c.world.people.next_at() for c in controllers.values()]
                + [next_band, end, broker.next_change(now)]
                + ([start + actions[0][0] * HOUR] if actions else [])
            )
            clock.advance(max(due - clock.time(), 0.0))
            for controller in controllers.values():
                controller.world.advance_to(clock.time())  # people move, badge and pull doors on time
    finally:
        for controller in controllers.values():
            controller.close()
        broker.close()
    door_ids = {(r.id, d.id) for r in site.rooms for d in r.doors if d.access}
    report_rooms = {
        room_id: _room_report(
            room,
            [e for e in recorders[room.gateway].events if e.get("room") == room_id],
            in_band[room_id] / max(band_checks, 1),
            series[room_id],
        )
        for room_id, room in rooms.items()
    }
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "hours": hours,
        "start": datetime.fromtimestamp(start, zone).isoformat(),
        "seed": site.hardware.sim.seed,
        "rooms": report_rooms,
        "outside": outside,
        "events": [e for r in recorders.values() for e in door_events(r.events, door_ids)],
    }


def _point(t_s: float, temperature_c: float, rh_pct: float) -> dict[str, float]:
    return {"t_s": round(t_s, 1), "temperature_c": round(temperature_c, 2), "rh_pct": round(rh_pct, 2)}


def _room_report(room: Any, events: list[dict[str, Any]], share: float, series: list) -> dict[str, Any]:
    transitions = [
        {"t_s": e["t_s"], "unit": e["device"], "on": e["data"]["on"], "reason": e["data"].get("reason")}
        for e in events
        if e["kind"] == "relay"
    ]
    # Compressor protection governs ordinary cycles; a safety stop (full tank, unit not drying) may cut a run
    # short on purpose, so such runs count towards run time but not towards the shortest run.
    on_periods, off_periods, cut_short = [], [], []
    for relay in room.relays:
        mine = [{"t_s": 0.0, "on": False, "reason": None}] + [t for t in transitions if t["unit"] == relay.id]
        for a, b in pairwise(mine):
            if not a["on"]:
                off_periods.append(b["t_s"] - a["t_s"])
            elif b["reason"] in SAFETY_STOPS:
                cut_short.append(b["t_s"] - a["t_s"])
            else:
                on_periods.append(b["t_s"] - a["t_s"])
    alarms: list[dict[str, Any]] = []
    for e in events:
        if e["kind"] in ("relay", "door"):
            continue
        if e["data"].get("cleared"):
            for alarm in reversed(alarms):
                if alarm["kind"] == e["kind"] and alarm["device"] == e.get("device") and alarm["cleared_s"] is None:
                    alarm["cleared_s"] = e["t_s"]
                    break
        elif e.get("severity") in ("warning", "alarm"):
            alarms.append(
                {
                    "kind": e["kind"],
                    "severity": e["severity"],
                    "device": e.get("device"),
                    "message": e.get("message", ""),
                    "raised_s": e["t_s"],
                    "cleared_s": None,
                }
            )
    return {
        "share_in_band": round(share, 4),
        "min_on_s": min(on_periods) if on_periods else None,
        "min_off_s": min(off_periods) if off_periods else None,
        "relay_transitions": transitions,
        "run_hours": round((sum(on_periods) + sum(cut_short)) / HOUR, 2),
        "safety_stops": len(cut_short),
        "alarms": alarms,
        "door_openings": sum(1 for e in events if e["kind"] == "door" and e["data"].get("open")),
        "series": series,
    }


def summary(report: dict[str, Any]) -> list[str]:
    """A few lines for a person: per room, the share in band, the cycling and the alarms."""
    lines = [f"{report['scenario']}: {report['hours']:g} h from {report['start']}"]
    for room_id, r in report["rooms"].items():
        kinds = sorted({a["kind"] for a in r["alarms"]})
        lines.append(
            f"  {room_id}: {r['share_in_band']:.0%} of the time in band, {len(r['relay_transitions'])} relay switches, "
            f"shortest run {_duration(r['min_on_s'])}, shortest rest {_duration(r['min_off_s'])}, "
            f"alarms: {', '.join(kinds) or 'none'}"
        )
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds / 60:.0f} min"
