"""The site config: one TOML file describing a storeroom site, validated where it enters.

Everything deeper (gateway, dashboard, simulation) receives the typed `SiteConfig` and never sees raw
TOML. A bad file is refused with `ConfigError`, whose message names the file and the key, in the way
Home Assistant validates an integration's config at the door.

Relative paths in the file are resolved against the folder that holds the file, so a config can be
moved with its data.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
"""Ids become MQTT topic levels and broker usernames: lower case, digits, '-' and '_' only."""

BcmPin = Annotated[int, Field(ge=0, le=27)]
"""A Broadcom GPIO number on the 40-pin header."""


def _host_port(value: str) -> str:
    if not re.fullmatch(r"[\w.:\[\]-]+:\d{1,5}", value):
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
"""Where a web server listens, HOST:PORT."""

DEMO_CONFIG = Path(__file__).with_name("configs") / "demo.toml"
"""The demo site, the default of every command that takes `--config`."""

FilePath = Annotated[Path, Field(strict=False)]
"""TOML has no path type: a string is accepted and becomes a Path."""


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the offending key."""


class _Strict(BaseModel):
    # Unknown keys are refused (a typo must not silently fall back to a default) and types are not coerced.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Site(_Strict):
    id: Ident
    name: str
    timezone: str = "UTC"


class Weather(_Strict):
    """Outside air the simulated rooms leak towards: a daily sine around a mean."""

    temperature_c: float = 26.0
    daily_swing_c: float = 4.0
    humidity_rh: Annotated[float, Field(ge=0, le=100)] = 80.0


class Simulation(_Strict):
    speed: Annotated[float, Field(gt=0, le=100_000)] = 1.0
    """Simulated seconds per wall-clock second: 1 for the demo, hundreds or more in tests."""
    seed: int = 1
    weather: Weather = Weather()
    door_openings_per_hour: Annotated[float, Field(ge=0)] = 2.0
    """How often the simulated people open each door; 0 keeps doors shut."""
    tag_scans_per_hour: Annotated[float, Field(ge=0)] = 0.0
    """How often a simulated keeper lays a dossier tag on one of the gateway's readers; 0: never."""
    stand_sessions_per_hour: Annotated[float, Field(ge=0)] = 0.0
    """How often a simulated keeper digitizes a dossier at each copy stand; 0: never."""
    tank_emptied_after_h: Annotated[float, Field(ge=0)] = 2.0
    """How long a full dehumidifier tank waits for a simulated keeper to empty it; 0: nobody comes."""
    badge_visits_per_hour: Annotated[float, Field(ge=0)] = 0.0
    """How often simulated staff come to each door with a strike, badges in hand (door access); 0: never."""


class Hardware(_Strict):
    backend: Literal["sim", "pi"]
    sim: Simulation = Simulation()


class Broker(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 15


class Storage(_Strict):
    dir: FilePath
    """Where outboxes, the dashboard database, broker files and generated secrets live."""
    secrets_dir: FilePath | None = None
    """Broker passwords, one `<account>.password` file each; defaults to `<dir>/secrets`."""
    warn_free_mb: Annotated[float, Field(ge=0, le=10_000_000)] = 4096
    """A gateway warns (`disk_low`) when less than this is free where it writes (outbox, pages, upload queue)."""
    min_free_mb: Annotated[float, Field(ge=0, le=10_000_000)] = 1024
    """Below this a gateway raises `disk_full` and its copy stands take no more pages (gateway/disk.py): the
    rest is kept for the outbox, so climate control, doors and alarms go on and are reported."""

    @model_validator(mode="after")
    def _limits_ordered(self) -> Storage:
        if self.min_free_mb > self.warn_free_mb:
            raise ValueError(f"min_free_mb ({self.min_free_mb:g}) must not exceed warn_free_mb ({self.warn_free_mb:g})")
        return self

    @property
    def secrets(self) -> Path:
        return self.secrets_dir or self.dir / "secrets"


class Band(_Strict):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class Sampling(_Strict):
    """How a sensor's raw reads become a trusted value with a state (sensors/sampler.py)."""

    retries: Annotated[int, Field(ge=0, le=5)] = 2
    """Reads tried again after a failure before the sample counts as failed."""
    retry_after_s: Annotated[float, Field(ge=2.5, le=60)] = 2.5
    """Wait before the first retry, doubled for each next; a DHT22 needs 2 s between reads."""
    median_of: Annotated[int, Field(ge=1, le=15)] = 3
    """The value is the median of this many recent good reads: one odd read moves nothing."""
    plausible_c: Band = Band(low=-30.0, high=60.0)
    plausible_rh: Band = Band(low=0.5, high=100.0)
    """Reads outside are refused (a DHT22 reading exactly 0 % RH is a wiring fault, not dry air)."""
    max_step_c: Annotated[float, Field(gt=0)] = 2.0
    max_step_rh: Annotated[float, Field(gt=0)] = 8.0
    """A read this far from the current value, plus `max_rate_*_per_min` for the time since, is a spike."""
    max_rate_c_per_min: Annotated[float, Field(ge=0)] = 1.0
    max_rate_rh_per_min: Annotated[float, Field(ge=0)] = 5.0
    confirm_reads: Annotated[int, Field(ge=2, le=10)] = 3
    """A jump that this many reads in a row agree on is real (a sensor moved, a door opened for long)."""
    stuck_after_s: Annotated[float, Field(ge=60)] = 1800.0
    """The same raw values for this long (and at least 10 reads) mean a hung sensor."""
    stale_after_s: Annotated[float, Field(ge=5)] = 60.0
    """Without a good read for this long the last value is stale: shown, but not used for control."""
    failed_after_s: Annotated[float, Field(ge=10)] = 300.0
    """Without a good read for this long the sensor has failed and its value is withdrawn."""

    @model_validator(mode="after")
    def _ages_ordered(self) -> Sampling:
        if self.failed_after_s <= self.stale_after_s:
            raise ValueError(f"failed_after_s ({self.failed_after_s}) must exceed stale_after_s ({self.stale_after_s})")
        return self


class Sensor(_Strict):
    id: Ident
    type: Literal["dht22"]
    pin: BcmPin
    interval_s: Annotated[float, Field(ge=2.5, le=3600)] = 10.0
    """DHT22s must not be read faster than every 2 s (field notes); the driver repeats old values if they are."""
    decode: Literal["bitbang", "pulseio"] = "bitbang"
    """How Adafruit's driver times the DHT22's pulses: Blinka's pulse reader (Pi 4 and older), or by polling
    the pin (works everywhere; the pulse reader hangs on a Pi 5)."""
    temperature_offset_c: Annotated[float, Field(ge=-5, le=5)] = 0.0
    humidity_offset_rh: Annotated[float, Field(ge=-10, le=10)] = 0.0
    """Calibration: added to every read (from a comparison with a reference instrument)."""
    sampling: Sampling = Sampling()


class Relay(_Strict):
    id: Ident
    kind: Literal["dehumidifier"]
    pin: BcmPin
    active_high: bool = True
    capacity_l_per_day: Annotated[float, Field(gt=0)] = 20.0
    """Rated moisture removal; the simulation uses it, the dashboard shows it."""
    tank_full_pin: BcmPin | None = None
    """The unit's tank-full float switch, closing to ground when the tank is full (None: drained by a hose)."""
    tank_l: Annotated[float, Field(gt=0)] | None = None
    """The tank's size: in the simulation its float switch closes once the unit has removed this much."""


# -- door access (issue 7): readers, strike, door inputs --------------------------------------------


class WiegandReader(_Strict):
    """A commercial door reader speaking Wiegand 26 or 34 bits on two GPIO inputs (D0, D1), through a level
    shifter: the lines idle high (5 V on the reader's side) and pulse low for each bit."""

    kind: Literal["wiegand"] = "wiegand"
    id: Ident
    d0_pin: BcmPin
    d1_pin: BcmPin
    side: Literal["outside", "inside"] = "outside"
    """Outside: people badge to enter; inside: to leave (needed for anti-passback)."""

    @model_validator(mode="after")
    def _two_lines(self) -> WiegandReader:
        if self.d0_pin == self.d1_pin:
            raise ValueError(f"d0_pin and d1_pin are both GPIO{self.d0_pin}; a Wiegand reader needs two lines")
        return self


class RfidDoorReader(_Strict):
    """One of `[[rfid.readers]]` (an MFRC522) used as a door reader for badge tags."""

    kind: Literal["rfid"]
    id: Ident
    """The id of the reader in `[[rfid.readers]]`, on the same gateway."""
    side: Literal["outside", "inside"] = "outside"


class Strike(_Strict):
    """The door's electric strike or magnetic lock, switched by a relay on a GPIO output.

    fail-secure: the strike unlocks only while powered; if the gateway dies or the power goes the door stays
    locked (egress by the handle inside). fail-safe (a maglock, fire doors): the lock holds only while
    powered; if the gateway dies or the power goes the door is free. The relay is energised to unlock a
    fail-secure strike and energised to hold a fail-safe lock."""

    pin: BcmPin
    active_high: bool = True
    fail_mode: Literal["fail-secure", "fail-safe"]
    pulse_s: Annotated[float, Field(ge=1.0, le=30.0)] = 5.0
    """How long a grant unlocks the door; it locks again after this whatever else happens."""
    sense_pin: BcmPin | None = None
    """The lock's status switch, closed to ground while the bolt is locked: a strike that does not follow its
    relay within `fault_after_s` raises a strike fault (None: not monitored)."""
    fault_after_s: Annotated[float, Field(ge=0.2, le=10.0)] = 1.0


class DoorAccess(_Strict):
    """Everything at a door besides its contact: readers, strike, buttons and inputs, feedback."""

    strike: Strike
    readers: Annotated[list[WiegandReader | RfidDoorReader], Field(min_length=1, max_length=2)]
    exit_button_pin: BcmPin | None = None
    """Request-to-exit button inside, closing to ground while pressed: unlocks for one pulse."""
    tamper_pin: BcmPin | None = None
    """The reader housing's tamper loop, closed to ground while intact; open is a tamper alarm."""
    emergency_pin: BcmPin | None = None
    """The fire panel's release contact, closing to ground in an emergency: the door unlocks and an alarm
    stays raised until it opens again."""
    buzzer_pin: BcmPin | None = None
    led_pin: BcmPin | None = None
    """The reader's buzzer and green LED inputs (driven low or high through a transistor: active high here)."""
    held_open_s: Annotated[float, Field(ge=5, le=3600)] = 60.0
    """A door open longer than this after a grant raises a held-open alarm."""

    @model_validator(mode="after")
    def _one_reader_a_side(self) -> DoorAccess:
        sides = [r.side for r in self.readers]
        if len(set(sides)) != len(sides):
            raise ValueError("readers: one reader per side of the door (outside, inside)")
        return self

    def pins(self) -> list[tuple[str, int]]:
        """(key, pin) of every GPIO the door's access hardware uses."""
        used = [("strike.pin", self.strike.pin)]
        if self.strike.sense_pin is not None:
            used.append(("strike.sense_pin", self.strike.sense_pin))
        for r in self.readers:
            if isinstance(r, WiegandReader):
                used += [(f"readers[{r.id}].d0_pin", r.d0_pin), (f"readers[{r.id}].d1_pin", r.d1_pin)]
        for key in ("exit_button_pin", "tamper_pin", "emergency_pin", "buzzer_pin", "led_pin"):
            if getattr(self, key) is not None:
                used.append((key, getattr(self, key)))
        return used


# -- end of door access ------------------------------------------------------------------------------


class Door(_Strict):
    id: Ident
    contact_pin: BcmPin
    """Reed contact, closed (pulled low) while the door is shut."""
    access: DoorAccess | None = None
    """Badge readers and a strike (docs/DEPLOY.md); None: a door that is only watched."""


class Control(_Strict):
    """How the hygrostat runs a room's dehumidifiers (gateway/hygrostat.py)."""

    start_below_top_rh: Annotated[float, Field(ge=0, le=20)] = 2.0
    """Units start this far below the band's top (and stop `hysteresis_rh` lower), so the overshoot while a
    compressor gets going stays inside the band; narrowed to fit a narrow band."""

    min_on_s: Annotated[float, Field(ge=0, le=3600)] = 600.0
    min_off_s: Annotated[float, Field(ge=0, le=3600)] = 300.0
    """Compressor protection: no unit runs shorter or rests shorter than these (a safety stop excepted)."""
    stagger_s: Annotated[float, Field(ge=0, le=600)] = 60.0
    """Units of one room start at least this far apart, so their inrush currents never add up."""
    max_run_s: Annotated[float, Field(ge=600)] = 6 * 3600.0
    """A unit running longer than this without a rest raises an alarm (it keeps running)."""
    fail_safe: Literal["off", "on", "hold"] = "off"
    """What the units do while the room has no usable humidity: off (nobody over-dries the paper or runs a
    compressor unwatched; the alarm pages a person), on, or hold their last state."""
    keepalive_every_h: Annotated[float, Field(ge=0, le=24 * 14)] = 0.0
    keepalive_run_s: Annotated[float, Field(ge=60, le=3600)] = 600.0
    """Run an idle unit this long every `keepalive_every_h` hours (0: never) to stir the air and prove it works."""
    ineffective_after_s: Annotated[float, Field(ge=600)] = 6 * 3600.0
    ineffective_drop_rh: Annotated[float, Field(ge=0, le=20)] = 1.0
    """A unit that has run this long while the room's humidity fell by less than this has failed (iced coil,
    broken compressor): it is stopped and an alarm raised."""
    lockout_s: Annotated[float, Field(ge=60)] = 1800.0
    """How long a unit stopped as ineffective rests before it is tried again."""


class ClimateAlarms(_Strict):
    """When a room's climate pages someone (gateway/climate_watch.py)."""

    delay_s: Annotated[float, Field(ge=0, le=24 * 3600)] = 900.0
    """A value must stay out of range this long before an alarm: a door opening pages nobody."""
    hysteresis_c: Annotated[float, Field(ge=0, le=5)] = 0.5
    hysteresis_rh: Annotated[float, Field(ge=0, le=10)] = 2.0
    """An alarm clears only this far back inside the range, so a value hovering at a limit does not flap."""
    swing_c: Annotated[float, Field(gt=0)] = 2.0
    swing_rh: Annotated[float, Field(gt=0)] = 5.0
    """Largest allowed change within 24 h (the archive storeroom rules: ±2 °C and ±5 % RH a day)."""
    surface_below_room_c: Annotated[float, Field(ge=0, le=20)] = 3.0
    """How much colder the room's coldest surface (an outside wall, a window) is than its air."""
    condensation_margin_c: Annotated[float, Field(ge=0, le=10)] = 2.0
    """Condensation risk when the dew point comes this close to the coldest surface."""
    mould_index: Annotated[float, Field(gt=0, le=6)] = 0.5
    """Mould risk when the VTT mould index (sensors/preservation.py) reaches this: halfway to growth under
    a microscope, days to weeks before anything shows."""


class Climate(_Strict):
    """Target bands; defaults are the paper-stack limits of JGJ 25."""

    temperature_c: Band = Band(low=14.0, high=24.0)
    humidity_rh: Band = Band(low=45.0, high=60.0)
    hysteresis_rh: Annotated[float, Field(ge=0, le=10)] = 3.0
    control: Control = Control()
    alarms: ClimateAlarms = ClimateAlarms()


class RoomStart(_Strict):
    """Initial state of a simulated room."""

    temperature_c: float = 20.0
    humidity_rh: Annotated[float, Field(ge=0, le=100)] = 55.0
    volume_m3: Annotated[float, Field(gt=0)] = 150.0
    air_changes_per_hour: Annotated[float, Field(ge=0)] = 0.3
    """Leakage with the door shut; an open door adds many more."""


class Room(_Strict):
    id: Ident
    name: str
    gateway: Ident
    climate: Climate = Climate()
    sensors: list[Sensor] = []
    relays: list[Relay] = []
    doors: list[Door] = []
    sim: RoomStart = RoomStart()
    outdoor: bool = False
    """Not a room but the air outside the store (a sensor in a screen on a north wall), so inside can be read
    against outside, as the archive storeroom rules ask. It has sensors only: no control, no alarms."""

    @model_validator(mode="after")
    def _outdoor_has_sensors_only(self) -> Room:
        if self.outdoor and (self.relays or self.doors):
            raise ValueError("an outdoor position has sensors only, no relays or doors")
        return self

    @property
    def badge_door(self) -> bool:
        """Whether a door of the room has badge readers and a strike (`access`): permissions concern it."""
        return any(d.access for d in self.doors)


class Gateway(_Strict):
    id: Ident
    name: str = ""


class Dashboard(_Strict):
    listen: HostPort = "127.0.0.1:8080"
    database: FilePath | None = None
    """Defaults to `<storage.dir>/dashboard.db`."""
    stale_after_s: Annotated[float, Field(gt=0)] = 120.0
    """A reading older than this is shown as stale."""
    session_idle_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30.0
    """A login ends after this long without a request."""
    language: Literal["zh_CN", "en"] = "zh_CN"
    """The pages' language for users who have not chosen their own."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only; set true wherever the dashboard is served over HTTPS."""


class RfidReader(_Strict):
    """One MFRC522 on a gateway's SPI bus: CE0 or CE1, its own reset pin, where it stands."""

    id: Ident
    gateway: Ident
    spi_device: Literal["CE0", "CE1"] = "CE0"
    reset_pin: BcmPin = 25
    location: Annotated[str, Field(min_length=1, max_length=64)]
    """What a scan here means, e.g. `east-stack/shelf-3`, `desk` or `east-stack/door`."""
    poll_interval_s: Annotated[float, Field(ge=0.02, le=5.0)] = 0.2

    @property
    def spi_index(self) -> int:
        return 0 if self.spi_device == "CE0" else 1


class Rfid(_Strict):
    """RFID tags and readers (rfid/, docs/TAGS.md). The keys themselves live in the secrets folder, never here."""

    key_id: Annotated[int, Field(ge=1, le=255)] = 1
    """The key new tags are signed with (`<secrets>/rfid-<key_id>.key`); raise it to rotate keys."""
    readers: list[RfidReader] = []


# -- copy stands (vision/, gateway/copystand.py) -----------------------------------------------


PAGE_SIZES_MM: dict[str, tuple[float, float]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "A6": (105.0, 148.0),
    "B5": (176.0, 250.0),
    "16K": (184.0, 260.0),  # 16开, common in Chinese dossiers
    "LETTER": (215.9, 279.4),
}
"""Paper sizes a stand's pages come in, (short, long) in mm: the config names them, vision/ resamples to them."""


class CopyStand(_Strict):
    """A camera over a copy stand beside one of a gateway's RFID readers, where a keeper digitizes dossiers.

    A session starts when a dossier tag is laid on `reader`, and ends on the done button, a second scan
    of the same tag, or `idle_end_s` without a shot. Pages are shot on the pedal, or with `trigger = "auto"`
    once the page lies still with no hand over it (a watched folder's camera shoots by itself).
    """

    id: Ident
    gateway: Ident
    reader: Ident
    """The RFID reader at the stand (one of `rfid.readers` on the same gateway)."""
    camera: Literal["sim", "picamera2", "opencv", "folder"] = "sim"
    source: str = ""
    """What the camera reads: picamera2's camera number (`0`, `1`); an OpenCV device index, absolute path or
    stream URL (`0`, `/dev/video0`, `rtsp://...`); the watched folder's path."""
    resolution: Literal["full", "2mp", "5mp", "12mp"] = "full"
    """Still size: `full` is the camera's own largest (the HQ camera's 4056 x 3040, Camera Module 3's 4608 x 2592,
    a USB camera's largest mode; the simulated camera is an HQ camera). 12 MP asks for 4056 x 3040, 5 MP for
    2592 x 1944 and 2 MP for 1632 x 1224 (USB document cameras; enough for A6 and smaller pages only)."""
    trigger: Literal["pedal", "auto", "camera"] = "pedal"
    pedal_pin: BcmPin | None = None
    """A foot pedal or button closing to ground: shoot the page."""
    done_pin: BcmPin | None = None
    """A button closing to ground: end the session."""
    still_s: Annotated[float, Field(ge=0.2, le=10)] = 0.8
    """With `trigger = "auto"`: how long the page must lie still before it is shot."""
    idle_end_s: Annotated[float, Field(ge=30, le=4 * 3600)] = 600.0
    page_size: str = "A4"
    """The pages' size for the target resolution: a name in PAGE_SIZES_MM (A4, 16K, ...) or WIDTHxHEIGHT mm."""
    px_per_mm: Annotated[float, Field(gt=0, le=100)] | None = None
    """The stand's calibration (camera pixels per millimetre at the page); when set it decides the page's size."""
    dpi: Annotated[float, Field(ge=200, le=600)] = 300.0
    """Masters are resampled to this; DA/T 31-2017 asks for at least 200 dpi, 300 for small or unclear text."""
    master_format: Literal["png", "tiff"] = "tiff"
    """Each page's lossless master: a Deflate TIFF (DA/T 31-2017 names TIFF; about 10 MB for a 300 dpi A4 colour
    page) or a PNG (the same size, four times as long to write). The access JPEG comes with either."""
    bitonal: bool = False
    """Also write a black-and-white copy for OCR (the colour master is never thresholded)."""
    upright: bool = True
    """Turn a page laid upside down or sideways upright before its files are written (DA/T 31-2017): Tesseract's
    orientation detection, a few hundred ms a page after the verdict; off where the stand's gateway is too slow."""
    station_listen: HostPort = "127.0.0.1:8090"
    """Where the stand's touchscreen page is served (on the gateway itself)."""

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, value: str) -> str:
        if value.upper() in PAGE_SIZES_MM or re.fullmatch(r"\d{2,4}(\.\d+)?x\d{2,4}(\.\d+)?", value):
            return value
        raise ValueError(f"must be one of {', '.join(PAGE_SIZES_MM)} or WIDTHxHEIGHT in mm, e.g. 210x297")

    @property
    def page_size_hint(self) -> str | tuple[float, float] | None:
        """What vision's Hints take: None when the calibration decides, a name, or (width, height) mm."""
        if self.px_per_mm is not None:
            return None
        if "x" in self.page_size:
            w, h = self.page_size.split("x")
            return (float(w), float(h))
        return self.page_size.upper()

    @model_validator(mode="after")
    def _triggers(self) -> CopyStand:
        if self.trigger == "pedal" and self.pedal_pin is None:
            raise ValueError("trigger = 'pedal' needs pedal_pin")
        if (self.trigger == "camera") != (self.camera == "folder"):
            raise ValueError("trigger = 'camera' goes with camera = 'folder' (a tethered camera writing files) only")
        if self.camera == "folder" and not self.source:
            raise ValueError("camera = 'folder' needs source: the folder the camera writes to")
        if self.pedal_pin is not None and self.pedal_pin == self.done_pin:
            raise ValueError(f"pedal_pin and done_pin are both GPIO{self.pedal_pin}")
        return self

    @model_validator(mode="after")
    def _source(self) -> CopyStand:
        """Refused here, naming the stand, what the camera would only fail on when the gateway starts."""
        source = self.source
        if self.camera == "picamera2" and source and not source.isdigit():
            raise ValueError(
                f"copy stand {self.id!r}: camera = 'picamera2' takes source as the camera's number "
                f"(0, 1, ... as `rpicam-hello --list-cameras` shows them), not {source!r}"
            )
        opens = source.isdigit() or source.startswith("/") or re.match(r"^[a-z][a-z0-9+.-]*://", source)
        if self.camera == "opencv" and source and not opens:
            raise ValueError(
                f"copy stand {self.id!r}: camera = 'opencv' takes source as a device number (0), an absolute "
                f"path (/dev/video0) or a stream URL (rtsp://...), not {source!r}"
            )
        return self


# --- Dossier tracking (issue 8): where dossiers live, floor plans, loans ------------------------------
# Location codes are written on location tags, so they fit a tag's 32 bytes (docs/TAGS.md). A room's code
# is its id; a shelf row's is `<room>/<row>`; one shelf of a row (one side, column 节 and layer 层) is
# `<room>/<row>-<side>-<column>-<layer>`, e.g. `east-stack/r1-A-2-3`; boxes come from the register.

RowId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,7}$")]
LocationCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,31}$")]


class PlanMark(_Strict):
    """Where a configured door or sensor of the room is drawn on its floor plan (metres from the top left)."""

    id: Ident
    x_m: Annotated[float, Field(ge=0)]
    y_m: Annotated[float, Field(ge=0)]


class ShelfRow(_Strict):
    """One row of compact shelving (密集架, one 列): `sides` faces, each `columns` sections of `layers` shelves."""

    id: RowId
    label: str = ""
    x_m: Annotated[float, Field(ge=0)]
    y_m: Annotated[float, Field(ge=0)]
    length_m: Annotated[float, Field(gt=0, le=100)] = 5.0
    depth_m: Annotated[float, Field(gt=0, le=5)] = 0.6
    sides: Annotated[list[Literal["A", "B"]], Field(min_length=1, max_length=2)] = ["A", "B"]
    columns: Annotated[int, Field(ge=1, le=99)] = 5
    layers: Annotated[int, Field(ge=1, le=20)] = 6

    def shelves(self, room: str) -> list[str]:
        """The location codes of every shelf of this row, side by side, column by column, top layer first."""
        return [
            f"{room}/{self.id}-{side}-{column}-{layer}"
            for side in self.sides
            for column in range(1, self.columns + 1)
            for layer in range(1, self.layers + 1)
        ]


class RoomPlan(_Strict):
    """A stack room's floor plan: its size, its shelf rows, and where its doors and sensors are."""

    room: Ident
    width_m: Annotated[float, Field(gt=0, le=200)] = 12.0
    depth_m: Annotated[float, Field(gt=0, le=200)] = 8.0
    rows: list[ShelfRow] = []
    doors: list[PlanMark] = []
    sensors: list[PlanMark] = []


class TrackingPoint(_Strict):
    """A place a reader stands that is not a shelf: the issue desk, a door, the copy stand.

    A reader (rfid.readers) whose `location` is one of these codes is a desk, door or copy-stand reader;
    any other reader is a keeper's station, used for look-ups and stocktakes.
    """

    code: LocationCode
    kind: Literal["desk", "door", "copy_stand"]
    room: Ident | None = None
    name: str = ""


class Loans(_Strict):
    default_days: Annotated[int, Field(ge=1, le=365)] = 7
    """A loan's period when the request names none (about a week, as the rules of the field expect)."""
    max_days: Annotated[int, Field(ge=1, le=365)] = 14

    @model_validator(mode="after")
    def _default_within_max(self) -> Loans:
        if self.default_days > self.max_days:
            raise ValueError(f"default_days ({self.default_days}) must not exceed max_days ({self.max_days})")
        return self


class Tracking(_Strict):
    plans: list[RoomPlan] = []
    points: list[TrackingPoint] = []
    loans: Loans = Loans()
    stocktake_due_days: Annotated[int, Field(ge=1, le=3660)] = 365
    """A shelf not fully checked for this long is due for a stocktake (at least yearly)."""
    code_pattern: Annotated[str, Field(min_length=1, max_length=64)] = "{unit}-{year}-{seq:05d}"
    """How new dossier codes are made: `{unit}`, `{year}` and `{seq}` (with a format such as `:05d`)."""


def _tracking_consistent(config: SiteConfig) -> None:
    """Plans name configured stack rooms, their marks configured doors and sensors, and every code fits a tag."""
    rooms = {r.id: r for r in config.rooms}
    _unique("tracking.plans", [p.room for p in config.tracking.plans])
    for i, plan in enumerate(config.tracking.plans):
        where = f"tracking.plans[{i}]"
        room = rooms.get(plan.room)
        if room is None or room.outdoor:
            raise ValueError(f"{where}.room: {plan.room!r} is not one of the stack rooms {sorted(rooms)}")
        _unique(f"{where}.rows", [r.id for r in plan.rows])
        for marks, devices, key in ((plan.doors, room.doors, "doors"), (plan.sensors, room.sensors, "sensors")):
            known = {d.id for d in devices}
            for mark in marks:
                if mark.id not in known:
                    raise ValueError(f"{where}.{key}: {mark.id!r} is not one of the room's {key} {sorted(known)}")
        for row in plan.rows:
            if row.x_m + row.length_m > plan.width_m or row.y_m + row.depth_m > plan.depth_m:
                raise ValueError(f"{where}.rows[{row.id}]: the row does not fit in the room's plan")
            longest = row.shelves(plan.room)[-1]
            if len(longest.encode()) > 32:
                raise ValueError(f"{where}.rows[{row.id}]: location code {longest!r} is longer than a tag holds")
    _unique("tracking.points", [p.code for p in config.tracking.points])
    for i, point in enumerate(config.tracking.points):
        if point.room is not None and point.room not in rooms:
            raise ValueError(f"tracking.points[{i}].room: {point.room!r} is not one of the rooms {sorted(rooms)}")
    try:
        config.tracking.code_pattern.format(unit="U", year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"tracking.code_pattern: cannot be filled with unit, year and seq ({exc})") from None


# --- end of dossier tracking ---------------------------------------------------------------------------
# -- dossier pages: files from the copy stand to the dashboard (gateway/uploads.py, dashboard/page_files.py) --


class Pages(_Strict):
    """How corrected dossier pages travel from a gateway to the dashboard, and where the dashboard keeps them."""

    upload_url: str | None = None
    """The dashboard as the gateways reach it, e.g. `https://archive.example.org:8443` (a reverse proxy) or
    `http://10.0.0.5:8080`; defaults to `http://<dashboard.listen>`, right when both run on one machine."""
    store_dir: FilePath | None = None
    """Where the dashboard keeps page files, by SHA-256; defaults to `<storage.dir>/dashboard-pages`."""
    chunk_kib: Annotated[int, Field(ge=64, le=65536)] = 1024
    """Files are sent in pieces of this size: a broken connection costs at most one piece."""
    max_file_mb: Annotated[int, Field(ge=1, le=65536)] = 2048
    """The largest file the dashboard accepts (a page's master; older gateways also sent a dossier's PDF)."""
    timeout_s: Annotated[float, Field(ge=1, le=600)] = 30.0
    """How long a gateway waits for the dashboard's answer to one request."""
    retry_s: Annotated[float, Field(ge=0.05, le=60)] = 1.0
    retry_max_s: Annotated[float, Field(ge=0.05, le=3600)] = 60.0
    """While the dashboard cannot be reached, a gateway tries again after `retry_s`, doubling up to `retry_max_s`."""
    keep_masters_days: Annotated[float, Field(ge=0, le=36500)] = 7.0
    """A gateway removes a page's master (and bitonal copy) from its own disk this long after the dashboard
    confirmed it has it (masters are 10-30 MB a page: they would fill a Pi's card in days), and a dossier's PDF
    that an older gateway made likewise."""
    keep_access_days: Annotated[float, Field(ge=0, le=36500)] = 7.0
    """A gateway removes a page's access JPEG (1-2 MB) from its own disk this long after the dashboard confirmed
    it has it: the dashboard makes the dossier's PDF from its own copies, and a continued session numbers on from
    the manifest, which always stays. Apart from `keep_masters_days` so that a site may keep the small access
    copies longer, as a safety net on the gateway, without keeping the masters, ten times their size, as long."""
    abandoned_upload_days: Annotated[float, Field(gt=0, le=3650)] = 7.0
    """A partial upload untouched this long is dropped from the dashboard's disk: its gateway was reinstalled
    or gave the page up. A gateway that comes back later simply sends the file again from its start."""

    @field_validator("upload_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[\w.\[\]:-]+(:\d{1,5})?(/[\w./-]*)?", value):
            raise ValueError("must be an http:// or https:// URL of the dashboard, e.g. http://10.0.0.5:8080")
        return value.rstrip("/")


# -- Dashboard platform (issue 3): e-mailed reports ----------------------------------------------------
class Reports(_Strict):
    """Where `storeroom dashboard report --to ...` sends its e-mail. The SMTP account, if the server wants one,
    is read from the secrets folder (`smtp.user`, `smtp.password`), never from this file."""

    smtp: HostPort = "127.0.0.1:25"
    sender: Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$")] = "storeroom@localhost"
    """The From address."""
    starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in (a server that does not offer it is refused)."""
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0


class SiteConfig(_Strict):
    site: Site
    hardware: Hardware
    broker: Broker = Broker()
    storage: Storage
    gateways: Annotated[list[Gateway], Field(min_length=1)]
    rooms: Annotated[list[Room], Field(min_length=1)]
    dashboard: Dashboard = Dashboard()
    rfid: Rfid = Rfid()
    copy_stands: list[CopyStand] = []
    tracking: Tracking = Tracking()
    pages: Pages = Pages()
    reports: Reports = Reports()
    source: FilePath | None = None
    """The file this config was read from (set by `load`, not written in TOML)."""

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        _unique("gateways", [g.id for g in self.gateways])
        _unique("rooms", [r.id for r in self.rooms])
        known = {g.id for g in self.gateways}
        for i, room in enumerate(self.rooms):
            if room.gateway not in known:
                raise ValueError(f"rooms[{i}].gateway: {room.gateway!r} is not one of the gateways {sorted(known)}")
            _unique(f"rooms[{i}] device ids", [d.id for d in (*room.sensors, *room.relays, *room.doors)])
        _unique("rfid.readers", [r.id for r in self.rfid.readers])
        spi: dict[tuple[str, str], str] = {}
        for i, reader in enumerate(self.rfid.readers):
            if reader.gateway not in known:
                raise ValueError(
                    f"rfid.readers[{i}].gateway: {reader.gateway!r} is not one of the gateways {sorted(known)}"
                )
            if (reader.gateway, reader.spi_device) in spi:
                raise ValueError(
                    f"rfid.readers[{i}].spi_device: {reader.spi_device} on gateway {reader.gateway!r} "
                    f"is already used by reader {spi[reader.gateway, reader.spi_device]!r}"
                )
            spi[reader.gateway, reader.spi_device] = reader.id
        _unique("copy_stands", [s.id for s in self.copy_stands])
        readers = {r.id: r for r in self.rfid.readers}
        for i, stand in enumerate(self.copy_stands):
            if stand.gateway not in known:
                raise ValueError(
                    f"copy_stands[{i}].gateway: {stand.gateway!r} is not one of the gateways {sorted(known)}"
                )
            reader = readers.get(stand.reader)
            if reader is None or reader.gateway != stand.gateway:
                raise ValueError(
                    f"copy_stands[{i}].reader: {stand.reader!r} is not an RFID reader of gateway {stand.gateway!r}"
                )
        _unique("copy_stands[].reader", [s.reader for s in self.copy_stands])
        _door_readers_known(self)
        for gateway in self.gateways:
            readers_here = [r for r in self.rfid.readers if r.gateway == gateway.id]
            stands = [s for s in self.copy_stands if s.gateway == gateway.id]
            _pins_once(gateway.id, [r for r in self.rooms if r.gateway == gateway.id], self.rooms, readers_here, stands)
        _tracking_consistent(self)
        return self

    # Convenience views used by the gateway and the dashboard.
    def gateway(self, gateway_id: str) -> Gateway:
        for g in self.gateways:
            if g.id == gateway_id:
                return g
        raise ConfigError(f"{self.source or 'config'}: no gateway {gateway_id!r} (have {self.gateway_ids})")

    @property
    def gateway_ids(self) -> list[str]:
        return [g.id for g in self.gateways]

    def rooms_of(self, gateway_id: str) -> list[Room]:
        return [r for r in self.rooms if r.gateway == gateway_id]

    @property
    def dashboard_database(self) -> Path:
        return self.dashboard.database or self.storage.dir / "dashboard.db"

    def copy_stands_of(self, gateway_id: str) -> list[CopyStand]:
        return [s for s in self.copy_stands if s.gateway == gateway_id]

    def pages_dir(self, gateway_id: str) -> Path:
        """Where a gateway's copy stands keep the pages they correct, one folder per dossier."""
        return self.storage.dir / gateway_id / "pages"

    def outbox_path(self, gateway_id: str) -> Path:
        return self.storage.dir / gateway_id / "outbox.db"

    @property
    def upload_url(self) -> str:
        """Where gateways upload page files: `pages.upload_url`, or the dashboard's own address."""
        return self.pages.upload_url or f"http://{self.dashboard.listen}"

    @property
    def pages_store(self) -> Path:
        return self.pages.store_dir or self.storage.dir / "dashboard-pages"


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"{what}: id {ident!r} is used twice")
        seen.add(ident)


def _door_readers_known(site: SiteConfig) -> None:
    """A door's `kind = "rfid"` reader is one of `[[rfid.readers]]` on the door's own gateway, used by one door."""
    by_id = {r.id: r for r in site.rfid.readers}
    used: dict[str, str] = {}
    for i, room in enumerate(site.rooms):
        for door in room.doors:
            for reader in door.access.readers if door.access else []:
                if not isinstance(reader, RfidDoorReader):
                    continue
                where = f"rooms[{i}].doors[{door.id}].access.readers[{reader.id}]"
                if reader.id not in by_id or by_id[reader.id].gateway != room.gateway:
                    raise ValueError(f"{where}: no RFID reader {reader.id!r} on gateway {room.gateway!r}")
                if reader.id in used:
                    raise ValueError(f"{where}: reader {reader.id!r} already serves {used[reader.id]}")
                used[reader.id] = f"{room.id}/{door.id}"


def _pins_once(
    gateway_id: str, rooms: list[Room], all_rooms: list[Room], readers: list[RfidReader], stands: list[CopyStand] = ()
) -> None:
    """A GPIO pin drives one thing per gateway (each gateway is its own Pi)."""
    owner: dict[int, str] = {}
    for stand in stands:
        for key in ("pedal_pin", "done_pin"):
            pin = getattr(stand, key)
            if pin is not None:
                owner[pin] = f"copy_stands[{stand.id}].{key}"
    for r in readers:
        where = f"rfid.readers[{r.id}].reset_pin"
        if r.reset_pin in owner:
            raise ValueError(f"{where}: GPIO{r.reset_pin} on gateway {gateway_id!r} is used by {owner[r.reset_pin]}")
        owner[r.reset_pin] = where
    for room in rooms:
        i = all_rooms.index(room)
        used = [("sensors", d.id, "pin", d.pin) for d in room.sensors]
        used += [("relays", d.id, "pin", d.pin) for d in room.relays]
        used += [("relays", d.id, "tank_full_pin", d.tank_full_pin) for d in room.relays if d.tank_full_pin is not None]
        used += [("doors", d.id, "contact_pin", d.contact_pin) for d in room.doors]
        used += [("doors", d.id, f"access.{k}", p) for d in room.doors if d.access for k, p in d.access.pins()]
        for section, dev, key, pin in used:
            where = f"rooms[{i}].{section}[{dev}].{key}"
            if pin in owner:
                raise ValueError(f"{where}: GPIO{pin} on gateway {gateway_id!r} is already used by {owner[pin]}")
            owner[pin] = where


def load(path: str | Path) -> SiteConfig:
    """Read and validate a site config; raise ConfigError naming the file and key on any problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(raw, path)


def from_dict(raw: dict, path: Path) -> SiteConfig:
    """Validate an already parsed TOML document; `path` is used in messages and to resolve relative paths."""
    if "source" in raw:
        raise ConfigError(f"{path}: source: unknown key")
    try:
        config = SiteConfig.model_validate({**raw, "source": path})
    except ValidationError as exc:
        raise ConfigError(_explain(path, exc)) from None
    return _resolve_paths(config, path.resolve().parent)


def _explain(path: Path, exc: ValidationError) -> str:
    """One line per problem: `file: dotted.key: what is wrong`."""
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
        kind = err["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing (required)"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict | list):
                message += f" (got {err['input']!r})"
        # Whole-document checks (ids used twice, pins) name their key inside the message already.
        lines.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")
    return "\n".join(lines)


def _resolve_paths(config: SiteConfig, base: Path) -> SiteConfig:
    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    storage = config.storage.model_copy(
        update={"dir": absolute(config.storage.dir), "secrets_dir": absolute(config.storage.secrets_dir)}
    )
    dashboard = config.dashboard.model_copy(update={"database": absolute(config.dashboard.database)})
    pages = config.pages.model_copy(update={"store_dir": absolute(config.pages.store_dir)})
    return config.model_copy(update={"storage": storage, "dashboard": dashboard, "pages": pages})
