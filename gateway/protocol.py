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

import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    locked: bool | None = None
    """For a door with a strike: whether it is locked now (None: a door that is only watched)."""


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
    permissions_version: Annotated[int, Field(ge=1)] | None = None
    """The version of the permission document the gateway's doors run (None: none yet, every badge refused)."""


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


# -- door access: the permission document (issue 7) ------------------------------------------------

MAX_PERMISSIONS_BYTES = 1024 * 1024
"""A permission document names every badge of the site: it may be larger than other messages."""
PERMISSIONS_MAC_CONTEXT = b"storeroom/permissions/v1\n"
ACCESS_REASONS = (
    "granted",
    "exit",
    "exit_button",
    "remote_unlock",
    "unknown_badge",
    "forged_tag",
    "unreadable",
    "not_a_badge",
    "lost_badge",
    "user_disabled",
    "no_permission",
    "not_yet_valid",
    "expired",
    "outside_hours",
    "waiting_second_person",
    "visitor_needs_staff",
    "anti_passback",
    "no_permissions",
)
"""Why a door opened or not: the `reason` of every `access` event (docs/PROTOCOL.md explains each)."""

BadgeNumber = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,31}$")]
"""A badge's number: a Wiegand badge's `facility:card`, or the code on a badge tag (docs/TAGS.md)."""
HolderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
"""HH:MM from 00:00 to 24:00 (the end of a day's window)."""
ClockTime = Annotated[str, Field(pattern=CLOCK_TIME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TimeWindow(_Strict):
    """Weekly hours in the site's time zone: `days` (0 Monday ... 6 Sunday), from `start` until `end`."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)]
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError(f"window {self.start}-{self.end}: end must be after start")
        return self


class RoomGrant(_Strict):
    """Leave to enter one room, between two dates (inclusive, either open) and within weekly hours (none: any time)."""

    room: Ident
    valid_from: date | None = None
    valid_until: date | None = None
    windows: Annotated[list[TimeWindow], Field(max_length=14)] = []


class BadgeEntry(_Strict):
    number: BadgeNumber
    lost: bool = False
    """Reported lost or stolen: refused at every door, and the refusal says so."""


class Holder(_Strict):
    """A staff user (id = their dashboard user name) or a visitor badge's holder."""

    id: HolderId
    name: Text = ""
    kind: Literal["staff", "visitor"] = "staff"
    disabled: bool = False
    badges: Annotated[list[BadgeEntry], Field(max_length=8)] = []
    grants: Annotated[list[RoomGrant], Field(max_length=64)] = []


class RoomRule(_Strict):
    two_person: bool = False
    """The door opens only after two different authorised staff badges within `window_s` (双人进库)."""
    window_s: Annotated[float, Field(ge=5, le=300)] = 30.0
    anti_passback: bool = False
    """A badge that entered must leave by the inside reader before it enters again (and cannot leave twice)."""


class PermissionDocument(_Payload):
    """Who may open which door when: published by the dashboard, retained, at `cmd/permissions` of each
    gateway. `mac` is HMAC-SHA256, keyed by the site's access key, over PERMISSIONS_MAC_CONTEXT and the
    canonical JSON of every other field (`canonical`)."""

    version: Annotated[int, Field(ge=1)]
    issued: AwareDatetime
    issued_by: Text = ""
    site: Ident
    rooms: dict[Ident, RoomRule] = {}
    holders: Annotated[list[Holder], Field(max_length=5000)] = []
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = "0" * 64

    def canonical(self) -> bytes:
        """The signed bytes: sorted keys, no spaces, UTF-8, the `mac` left out."""
        body = self.model_dump(mode="json", exclude={"mac"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def signed(self, key: bytes) -> PermissionDocument:
        return self.model_copy(update={"mac": _permissions_mac(key, self.canonical())})

    def verify(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, _permissions_mac(key, self.canonical()))

    def holder_of(self, badge: str) -> tuple[Holder, BadgeEntry] | None:
        for holder in self.holders:
            for entry in holder.badges:
                if entry.number == badge:
                    return holder, entry
        return None


def _permissions_mac(key: bytes, canonical: bytes) -> str:
    return hmac.new(key, PERMISSIONS_MAC_CONTEXT + canonical, hashlib.sha256).hexdigest()


# -- end of door access ------------------------------------------------------------------------------


def check_band(low: float, high: float, hysteresis_rh: float) -> None:
    """A humidity band (the `set_band` command's `low` and `high`) a hygrostat with this hysteresis can keep.

    Raises ValueError naming what is wrong. The dashboard checks before sending, the gateway on receipt.
    """
    if not (0 <= low < high <= 100):
        raise ValueError(f"band {low}-{high} % RH: need 0 <= low < high <= 100")
    if high - low <= hysteresis_rh:
        raise ValueError(f"band {low}-{high} % RH is narrower than the hysteresis of {hysteresis_rh} % RH")


# -- dossier pages from the copy stand: the `page` and `dossier_scanned` events ---------------------------
#
# The files themselves travel over HTTP (docs/PROTOCOL.md, "Page files"); these events carry what the
# dashboard needs to know of them. Event data is flat (one level of scalars), so a page's files and
# quality checks are spelled out as keys: `access`, `access_bytes`, `access_name`, `qc_blur`,
# `qc_blur_limit`, `qc_blur_ok`, `qc_blur_reason`, ...

DOSSIER_CODE_PATTERN = r"^[\w][\w.-]{0,63}$"
"""A dossier code as vision/outputs.py names folders after it: letters of any script, digits, `_ . -`."""
PAGE_FILES = ("access", "master", "bitonal")
"""The files of one page: the access JPEG, the lossless master, an optional black-and-white copy for OCR."""
DOSSIER_FILES = ("pdf", "manifest")
"""The files a `dossier_scanned` event names: the manifest always; a PDF only from gateways that made one
themselves (the dashboard now makes each dossier's PDF from the access copies of its pages)."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME = re.compile(r"^[\w][\w.-]{0,79}$")
_CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
MAX_FILE_BYTES = 1 << 40


class FileRef(BaseModel):
    """One file as the dashboard fetches it by its SHA-256: what it is called and how big it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: str
    bytes: int
    name: str


class QcCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ok: bool
    value: float
    limit: float
    reason: str = ""


class PageRecord(BaseModel):
    """One corrected page of a dossier, as the `page` event describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dossier: str
    page: int
    captured: datetime
    device: str
    dpi: float
    files: dict[str, FileRef]
    qc_ok: bool
    checks: dict[str, QcCheck]


class DossierScan(BaseModel):
    """A dossier's manifest (and, from an older gateway, its PDF) once a copy-stand session has ended (the
    `dossier_scanned` event); `pages` is how many pages the manifest lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dossier: str
    pages: int
    files: dict[str, FileRef]


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """`data[key]` if it is of `kind` (a bool is not taken for a number), else ProtocolError naming the key."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = data.get(key)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ProtocolError("invalid", f"data.{key}: {what}")
    return value


def _dossier(data: dict[str, Any]) -> str:
    code = _need(data, "dossier", str, "a dossier code is required")
    if not re.fullmatch(DOSSIER_CODE_PATTERN, code) or ".." in code:
        raise ProtocolError("invalid", f"data.dossier: {code[:80]!r} is not a dossier code")
    return code


def _files(data: dict[str, Any], kinds: tuple[str, ...], required: tuple[str, ...]) -> dict[str, FileRef]:
    files = {}
    for kind in kinds:
        if kind not in data and kind not in required:
            continue
        sha = _need(data, kind, str, "the file's SHA-256 is required")
        if not _SHA256.fullmatch(sha):
            raise ProtocolError("invalid", f"data.{kind}: {sha[:80]!r} is not a SHA-256 (64 lower-case hex digits)")
        size = _need(data, f"{kind}_bytes", int, "the file's size in bytes is required")
        if not 0 < size <= MAX_FILE_BYTES:
            raise ProtocolError("invalid", f"data.{kind}_bytes: {size} is not a file size")
        name = _need(data, f"{kind}_name", str, "the file's name is required")
        if not _FILE_NAME.fullmatch(name) or ".." in name:
            raise ProtocolError("invalid", f"data.{kind}_name: {name[:80]!r} is not a plain file name")
        files[kind] = FileRef(sha256=sha, bytes=size, name=name)
    return files


def _file_data(files: dict[str, FileRef]) -> dict[str, Scalar]:
    """Files as event data: `<kind>` (its SHA-256), `<kind>_bytes`, `<kind>_name`."""
    data: dict[str, Scalar] = {}
    for kind, ref in files.items():
        data |= {kind: ref.sha256, f"{kind}_bytes": ref.bytes, f"{kind}_name": ref.name}
    return data


def _refuse_unknown(data: dict[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProtocolError("invalid", f"data.{unknown[0]}: not a field of a {what} event")


def page_data(record: PageRecord) -> dict[str, Scalar]:
    """The `page` event's data for one page (the inverse of `read_page`)."""
    data: dict[str, Scalar] = {
        "dossier": record.dossier,
        "page": record.page,
        "captured": record.captured.isoformat(),
        "device": record.device,
        "dpi": float(record.dpi),
        "qc_ok": record.qc_ok,
    } | _file_data(record.files)
    for name, check in record.checks.items():
        data |= {f"qc_{name}": check.value, f"qc_{name}_limit": check.limit, f"qc_{name}_ok": check.ok}
        if check.reason:
            data[f"qc_{name}_reason"] = check.reason[:200]
    return data


def read_page(data: dict[str, Any]) -> PageRecord:
    """A `page` event's data as a PageRecord; ProtocolError('invalid') naming the key that is wrong."""
    dossier = _dossier(data)
    page = _need(data, "page", int, "the page number is required")
    if not 1 <= page <= 9999:
        raise ProtocolError("invalid", f"data.page: {page} is outside 1..9999")
    captured_text = _need(data, "captured", str, "the capture time is required (ISO 8601)")
    try:
        captured = datetime.fromisoformat(captured_text)
    except ValueError:
        raise ProtocolError("invalid", f"data.captured: {captured_text[:40]!r} is not an ISO 8601 time") from None
    if captured.tzinfo is None:
        raise ProtocolError("invalid", "data.captured: the time needs its UTC offset")
    device = _need(data, "device", str, "the capturing device is required")[:200]
    dpi = _need(data, "dpi", (int, float), "the resolution in dpi is required")
    if not 1 <= dpi <= 10000:
        raise ProtocolError("invalid", f"data.dpi: {dpi} is not a resolution")
    files = _files(data, PAGE_FILES, ("access", "master"))
    qc_ok = _need(data, "qc_ok", bool, "the quality verdict (true or false) is required")
    checks: dict[str, QcCheck] = {}
    known = {"dossier", "page", "captured", "device", "dpi", "qc_ok", *_file_data(files)}
    for key in data:
        if key in known or not key.startswith("qc_") or key.endswith(("_limit", "_ok", "_reason")):
            continue
        name = key.removeprefix("qc_")
        if not _CHECK_NAME.fullmatch(name):
            raise ProtocolError("invalid", f"data.{key}: a check's name is lower case letters, digits and _")
        reason = data.get(f"{key}_reason", "")
        checks[name] = QcCheck(
            ok=_need(data, f"{key}_ok", bool, f"check {name} needs its verdict"),
            value=float(_need(data, key, (int, float), f"check {name} needs a number")),
            limit=float(_need(data, f"{key}_limit", (int, float), f"check {name} needs its limit")),
            reason=reason if isinstance(reason, str) else "",
        )
        known |= {key, f"{key}_limit", f"{key}_ok", f"{key}_reason"}
    _refuse_unknown(data, known, "page")
    return PageRecord(
        dossier=dossier,
        page=page,
        captured=captured,
        device=device,
        dpi=float(dpi),
        files=files,
        qc_ok=qc_ok,
        checks=checks,
    )


def dossier_scan_data(scan: DossierScan) -> dict[str, Scalar]:
    """The `dossier_scanned` event's data (the inverse of `read_dossier_scan`)."""
    return {"dossier": scan.dossier, "pages": scan.pages} | _file_data(scan.files)


def read_dossier_scan(data: dict[str, Any]) -> DossierScan:
    dossier = _dossier(data)
    pages = _need(data, "pages", int, "the number of pages is required")
    if not 1 <= pages <= 9999:
        raise ProtocolError("invalid", f"data.pages: {pages} is outside 1..9999")
    files = _files(data, DOSSIER_FILES, ("manifest",))
    _refuse_unknown(data, {"dossier", "pages", *_file_data(files)}, "dossier_scanned")
    return DossierScan(dossier=dossier, pages=pages, files=files)


_EVENT_DATA = {"page": read_page, "dossier_scanned": read_dossier_scan}
"""Event kinds whose data has a fixed shape, checked on receipt like the rest of the payload."""


Kind = Literal["status", "birth", "telemetry", "climate", "event", "cmd", "ack", "permissions"]
_MODELS: dict[str, type[_Payload]] = {
    "status": Status,
    "birth": Birth,
    "telemetry": Reading,
    "climate": RoomValue,
    "event": Event,
    "cmd": Command,
    "ack": Ack,
    "permissions": PermissionDocument,
}


class Message(BaseModel):
    """A validated message with what its topic said."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    site: str
    gateway: str
    kind: Kind
    topic: str
    payload: Status | Birth | Reading | RoomValue | Event | Command | LoanList | Ack | PermissionDocument


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
    def permissions(self) -> str:
        """The retained permission document for this gateway's doors (see PermissionDocument)."""
        return f"{self.root}/cmd/permissions"

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
        case ["cmd", "permissions"]:
            return site, gateway, "permissions", {}
        case ["cmd", name] if _IDENT.fullmatch(name):
            return site, gateway, "cmd", {"command": name}
        case ["cmd", name, "ack"] if _IDENT.fullmatch(name):
            return site, gateway, "ack", {"command": name}
    raise ProtocolError("bad_topic", f"topic {topic!r}: unknown message kind {'/'.join(rest)!r}")


def parse(topic: str, payload: bytes) -> Message:
    """Validate one received message. Raises ProtocolError with a reason code and a readable message."""
    site, gateway, kind, details = classify(topic)
    limit = MAX_PERMISSIONS_BYTES if kind == "permissions" else MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        raise ProtocolError("too_large", f"{topic}: payload of {len(payload)} bytes exceeds {limit}")
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
    if isinstance(body, Event) and body.kind in _EVENT_DATA:
        try:
            _EVENT_DATA[body.kind](body.data)
        except ProtocolError as exc:
            raise ProtocolError(exc.reason, f"{topic}: {exc}") from None
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
