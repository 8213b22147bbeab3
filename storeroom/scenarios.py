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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from gateway.controller import Controller
from hardware.clock import ManualClock
from hardware.config import SiteConfig

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


def _in(room: str, what: Callable[..., None], *args: str) -> Callable[[Any], None]:
    """An action on the world that holds `room` (each gateway's world holds its own rooms only)."""

    def act(world: Any) -> None:
        if world.has_room(room):
            what(world, room, *args)

    return act


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
    )
}


def scenario_site(site: SiteConfig, scenario: Scenario, seed: int | None = None) -> SiteConfig:
    """The site as the scenario changes it: its weather, doors, relays and sensor timing."""
    raw = site.model_dump(exclude={"source"})
    sim = raw["hardware"]["sim"]
    sim["weather"].update(scenario.weather)
    sim["door_openings_per_hour"] = scenario.door_openings_per_hour
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

    def reading(self, room: str, sensor: str, sample: Any) -> None:
        """Readings are not part of the report: its series is the rooms' true climate, from the world."""

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append({"t_s": round(self.clock.time() - self.start, 1), "kind": kind, **fields})


def run(site: SiteConfig, scenario: Scenario, hours: float, seed: int | None = None) -> dict[str, Any]:
    """Run `scenario` for `hours` of simulated time; the report as `storeroom sim run` writes it."""
    site = scenario_site(site, scenario, seed)
    zone = ZoneInfo(site.site.timezone)
    start = datetime.fromisoformat(scenario.start).replace(tzinfo=zone).timestamp()
    clock = ManualClock(start)
    recorders = {gw.id: _Recorder(clock, start) for gw in site.gateways}
    controllers = {
        gw.id: Controller(site, gw.id, clock, on_reading=recorders[gw.id].reading, on_event=recorders[gw.id].event)
        for gw in site.gateways
    }
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
            if now >= end:
                break
            for controller in controllers.values():
                controller.step()
            due = min(
                [c.next_due() for c in controllers.values()]
                + [next_band, end]
                + ([start + actions[0][0] * HOUR] if actions else [])
            )
            clock.advance(max(due - clock.time(), 0.0))
    finally:
        for controller in controllers.values():
            controller.close()
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
