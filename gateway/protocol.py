"""The wire protocol between gateways and the dashboard: topics, payloads, validation, version.

This module is the contract. The gateway builds its messages here, the dashboard parses what it receives
here, and docs/PROTOCOL.md describes the same thing for people who integrate with us. It imports nothing
else of the project so the dashboard can depend on it without depending on the gateway.

Topics live under `storeroom/<site>/<gateway>/`:

    status                        retained; online on connect, offline as the Last Will (no seq)
    birth                         everything the gateway knows now; on every connect and on cmd/rebirth
    telemetry/<room>/<sensor>     one climate reading
    event/<kind>                  something happened: a door, a relay, a device error, an alarm
    cmd/<name>                    a command to the gateway (from the dashboard)
    cmd/loans                     retained: the approved loans (versioned; the gateway keeps them on disk)
    cmd/<name>/ack                the gateway's answer to a command

Every payload is one JSON object with `v` (schema version). All but `status` and commands also carry
`id`, `seq` (per gateway, rising, kept across restarts), `ts` (UTC ISO 8601), `synced` (false while
the gateway's clock is not yet set) and `historical` (true when sent from the backlog after an outage).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

VERSION = 1
ROOT = "storeroom"
MAX_PAYLOAD_BYTES = 64 * 1024
"""Larger payloads are refused unread: no legitimate message comes near this."""

IDENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_IDENT = re.compile(IDENT_PATTERN)
Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]
Text = Annotated[str, Field(max_length=500)]
Scalar = str | int | float | bool | None


class ProtocolError(ValueError):
    """A message that does not follow the protocol. `reason` is a short stable code for counting."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    v: Literal[1] = VERSION

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class _Sequenced(_Payload):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    seq: Annotated[int, Field(ge=1)]
    ts: AwareDatetime
    synced: bool = True
    historical: bool = False


class Status(_Payload):
    state: Literal["online", "offline"]
    session: Annotated[int, Field(ge=1)]
    """Rises on every connect; an `offline` Will from an older session than the last `online` is stale."""
    ts: AwareDatetime | None = None


SensorState = Literal["ok", "degraded", "stale", "failed"]


class Reading(_Sequenced):
    room: Ident
    sensor: Ident
    state: SensorState
    temperature_c: Annotated[float, Field(ge=-40, le=80)] | None = None
    humidity_rh: Annotated[float, Field(ge=0, le=100)] | None = None
    error: Text | None = None
    age_s: Annotated[float, Field(ge=0)] = 0.0
    """How old the values are: 0 when fresh; a degraded or stale reading repeats a value this old."""


class RoomValue(_Sequenced):
    """A room's own value: what its hygrostat and alarms go by, from the sensors named in `used`."""

    room: Ident
    temperature_c: Annotated[float, Field(ge=-40, le=80)] | None = None
    humidity_rh: Annotated[float, Field(ge=0, le=100)] | None = None
    used: list[Ident] = []
    """The sensors whose values made this one (median of those ok or degraded); empty: no usable value."""
    mould_index: Annotated[float, Field(ge=0, le=6)] | None = None
    """The VTT mould index the gateway keeps for the room (sensors/preservation.py)."""


class Event(_Sequenced):
    kind: Ident
    severity: Literal["info", "warning", "alarm"] = "info"
    room: Ident | None = None
    device: Ident | None = None
    message: Text = ""
    data: dict[Ident, Scalar] = {}


class RelayState(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: Ident
    kind: Ident
    on: bool


class DoorState(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: Ident
    open: bool


class RoomState(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: Ident
    name: Text
    sensors: list[Ident] = []
    relays: list[RelayState] = []
    doors: list[DoorState] = []
    humidity_band: tuple[float, float] | None = None
    """The hygrostat's target band (low, high) in % RH, as the gateway applies it now."""


class Birth(_Sequenced):
    session: Annotated[int, Field(ge=1)]
    name: Text = ""
    software: Text = ""
    rooms: list[RoomState]


class Command(_Payload):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    ts: AwareDatetime
    by: Text = ""
    args: dict[Ident, Scalar] = {}


class LoanGrant(BaseModel):
    """One dossier of an approved loan: checked out at a desk reader only against one of these."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    loan: Annotated[int, Field(ge=1)]
    code: Annotated[str, Field(min_length=1, max_length=32)]
    borrower: Text
    due: AwareDatetime
    out: bool = False
    """Checked out, as the dashboard knows (at a desk of any gateway); a door lets it pass."""


MAX_LOANS = 300
"""Dossiers in one loan document at most (loans are exceptional; this keeps it under MAX_PAYLOAD_BYTES)."""


class LoanList(_Payload):
    """`cmd/loans`, retained: every dossier that may leave now. Each new one has a higher `version`; a gateway
    keeps the newest on disk and ignores older ones."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    ts: AwareDatetime
    version: Annotated[int, Field(ge=1)]
    loans: Annotated[list[LoanGrant], Field(max_length=MAX_LOANS)] = []


COMMAND_PAYLOADS: dict[str, type[_Payload]] = {"loans": LoanList}
"""Commands whose payload is a document of its own rather than a `Command` with scalar args."""


class Ack(_Sequenced):
    command: Ident
    command_id: Annotated[str, Field(min_length=1, max_length=64)]
    ok: bool
    detail: Text = ""


def check_band(low: float, high: float, hysteresis_rh: float) -> None:
    """A humidity band (the `set_band` command's `low` and `high`) a hygrostat with this hysteresis can keep.

    Raises ValueError naming what is wrong. The dashboard checks before sending, the gateway on receipt.
    """
    if not (0 <= low < high <= 100):
        raise ValueError(f"band {low}-{high} % RH: need 0 <= low < high <= 100")
    if high - low <= hysteresis_rh:
        raise ValueError(f"band {low}-{high} % RH is narrower than the hysteresis of {hysteresis_rh} % RH")


Kind = Literal["status", "birth", "telemetry", "climate", "event", "cmd", "ack"]
_MODELS: dict[str, type[_Payload]] = {
    "status": Status,
    "birth": Birth,
    "telemetry": Reading,
    "climate": RoomValue,
    "event": Event,
    "cmd": Command,
    "ack": Ack,
}


class Message(BaseModel):
    """A validated message with what its topic said."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    site: str
    gateway: str
    kind: Kind
    topic: str
    payload: Status | Birth | Reading | RoomValue | Event | Command | LoanList | Ack


class Topics:
    """Topic names for one gateway."""

    def __init__(self, site: str, gateway: str) -> None:
        self.root = f"{ROOT}/{site}/{gateway}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    @property
    def birth(self) -> str:
        return f"{self.root}/birth"

    def telemetry(self, room: str, sensor: str) -> str:
        return f"{self.root}/telemetry/{room}/{sensor}"

    def climate(self, room: str) -> str:
        return f"{self.root}/climate/{room}"

    def event(self, kind: str) -> str:
        return f"{self.root}/event/{kind}"

    def cmd(self, name: str) -> str:
        return f"{self.root}/cmd/{name}"

    def ack(self, name: str) -> str:
        return f"{self.root}/cmd/{name}/ack"

    @property
    def commands(self) -> str:
        """Subscription filter for every command to this gateway."""
        return f"{self.root}/cmd/+"


def site_filter(site: str = "+") -> str:
    """Subscription filter for everything under a site (or every site)."""
    return f"{ROOT}/{site}/+/#"


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


def classify(topic: str) -> tuple[str, str, Kind, dict[str, str]]:
    """Split a topic into (site, gateway, kind, details) or raise ProtocolError('bad_topic')."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != ROOT or not parts[1] or not parts[2]:
        raise ProtocolError("bad_topic", f"topic {topic!r} is not under {ROOT}/<site>/<gateway>/")
    site, gateway, rest = parts[1], parts[2], parts[3:]
    match rest:
        case ["status"]:
            return site, gateway, "status", {}
        case ["birth"]:
            return site, gateway, "birth", {}
        case ["telemetry", room, sensor]:
            return site, gateway, "telemetry", {"room": room, "sensor": sensor}
        case ["climate", room]:
            return site, gateway, "climate", {"room": room}
        case ["event", kind]:
            return site, gateway, "event", {"kind": kind}
        case ["cmd", name] if _IDENT.fullmatch(name):
            return site, gateway, "cmd", {"command": name}
        case ["cmd", name, "ack"] if _IDENT.fullmatch(name):
            return site, gateway, "ack", {"command": name}
    raise ProtocolError("bad_topic", f"topic {topic!r}: unknown message kind {'/'.join(rest)!r}")


def parse(topic: str, payload: bytes) -> Message:
    """Validate one received message. Raises ProtocolError with a reason code and a readable message."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError("too_large", f"{topic}: payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    site, gateway, kind, details = classify(topic)
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("not_json", f"{topic}: payload is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ProtocolError("not_object", f"{topic}: payload is a JSON {type(document).__name__}, not an object")
    if document.get("v") != VERSION:
        raise ProtocolError("unknown_version", f"{topic}: schema version {document.get('v')!r} is not {VERSION}")
    try:
        # Validate from the JSON text, not the decoded dict, so strict mode still accepts ISO timestamps.
        model = COMMAND_PAYLOADS.get(details.get("command", ""), Command) if kind == "cmd" else _MODELS[kind]
        body = model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(payload)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ProtocolError("invalid", f"{topic}: {where}: {first['msg']}{more}") from None
    _check_topic_matches(topic, kind, details, body)
    return Message(site=site, gateway=gateway, kind=kind, topic=topic, payload=body)


def _check_topic_matches(topic: str, kind: str, details: dict[str, str], body: Any) -> None:
    pairs = {"telemetry": ("room", "sensor"), "climate": ("room",), "event": ("kind",), "ack": ("command",)}.get(
        kind, ()
    )
    for field in pairs:
        if getattr(body, field) != details[field]:
            raise ProtocolError(
                "topic_mismatch", f"{topic}: payload {field} {getattr(body, field)!r} differs from the topic"
            )


def dumps(payload: _Payload, **changes: Any) -> bytes:
    """Serialise a payload, optionally with fields changed at send time (e.g. historical=True)."""
    if changes:
        payload = payload.model_copy(update=changes)
    return payload.to_json()
