"""The small value types of libcamera's Python bindings, and its controls and properties by name."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

# -- the bindings' small value types ---------------------------------------------------------------------


class StreamRole(enum.IntEnum):
    Raw = 0
    StillCapture = 1
    VideoRecording = 2
    Viewfinder = 3


class ControlType(enum.IntEnum):
    Bool = 1
    Byte = 2
    Integer32 = 4
    Integer64 = 5
    Float = 6
    String = 7
    Rectangle = 8
    Size = 9


class Orientation(enum.IntEnum):
    Rotate0 = 1
    Rotate0Mirror = 2
    Rotate180 = 3
    Rotate180Mirror = 4
    Rotate90Mirror = 5
    Rotate270 = 6
    Rotate270Mirror = 7
    Rotate90 = 8


class Size:
    def __init__(self, width: int = 0, height: int = 0) -> None:
        self.width, self.height = int(width), int(height)

    def __repr__(self) -> str:
        return f"{self.width}x{self.height}"


class Rectangle:
    def __init__(self, x: int = 0, y: int = 0, width: int = 0, height: int = 0) -> None:
        self.x, self.y, self.width, self.height = int(x), int(y), int(width), int(height)

    def __repr__(self) -> str:
        return f"({self.x}, {self.y})/{self.width}x{self.height}"


class PixelFormat:
    def __init__(self, name: str) -> None:
        self.name = str(name)

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PixelFormat) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class Transform:
    def __init__(self, other: Transform | None = None, *, hflip: int = 0, vflip: int = 0, transpose: int = 0) -> None:
        if other is not None:
            hflip, vflip, transpose = other.hflip, other.vflip, other.transpose
        self.hflip, self.vflip, self.transpose = bool(hflip), bool(vflip), bool(transpose)

    def __str__(self) -> str:
        return f"<libcamera.Transform '{'hflip' * self.hflip}{'vflip' * self.vflip}{'transpose' * self.transpose}'>"


class ColorSpace:
    class Primaries(enum.IntEnum):
        Raw = 0
        Smpte170m = 1
        Rec709 = 2
        Rec2020 = 3

    class TransferFunction(enum.IntEnum):
        Linear = 0
        Srgb = 1
        Rec709 = 2

    class YcbcrEncoding(enum.IntEnum):
        Null = 0
        Rec601 = 1
        Rec709 = 2
        Rec2020 = 3

    class Range(enum.IntEnum):
        Full = 0
        Limited = 1

    def __init__(self, other: ColorSpace | None = None) -> None:
        self.primaries, self.transferFunction = self.Primaries.Raw, self.TransferFunction.Linear
        self.ycbcrEncoding, self.range = self.YcbcrEncoding.Null, self.Range.Full
        if other is not None:
            self.primaries, self.transferFunction = other.primaries, other.transferFunction
            self.ycbcrEncoding, self.range = other.ycbcrEncoding, other.range

    @classmethod
    def _make(cls, primaries, transfer, encoding, range_) -> ColorSpace:
        made = cls()
        made.primaries, made.transferFunction, made.ycbcrEncoding, made.range = primaries, transfer, encoding, range_
        return made

    @classmethod
    def Raw(cls) -> ColorSpace:
        return cls._make(cls.Primaries.Raw, cls.TransferFunction.Linear, cls.YcbcrEncoding.Null, cls.Range.Full)

    @classmethod
    def Sycc(cls) -> ColorSpace:
        return cls._make(cls.Primaries.Rec709, cls.TransferFunction.Srgb, cls.YcbcrEncoding.Rec601, cls.Range.Full)

    @classmethod
    def Smpte170m(cls) -> ColorSpace:
        return cls._make(
            cls.Primaries.Smpte170m, cls.TransferFunction.Rec709, cls.YcbcrEncoding.Rec601, cls.Range.Limited
        )

    @classmethod
    def Rec709(cls) -> ColorSpace:
        return cls._make(cls.Primaries.Rec709, cls.TransferFunction.Rec709, cls.YcbcrEncoding.Rec709, cls.Range.Limited)

    def __str__(self) -> str:
        return f"{self.primaries.name}/{self.transferFunction.name}/{self.ycbcrEncoding.name}/{self.range.name}"


class SensorConfiguration:
    def __init__(self) -> None:
        self.bit_depth = 0
        self.output_size = Size()


# -- controls and properties -----------------------------------------------------------------------------


@dataclass(eq=False)
class ControlId:
    id: int
    name: str
    type: ControlType

    def __repr__(self) -> str:
        return f"libcamera.ControlId({self.id}, {self.name})"


@dataclass
class ControlInfo:
    min: object
    max: object
    default: object = None
    values: list = field(default_factory=list)


_ids = itertools.count(1)


def _control(name: str, kind: ControlType) -> ControlId:
    return ControlId(next(_ids), name, kind)


_I32, _I64, _F, _B = ControlType.Integer32, ControlType.Integer64, ControlType.Float, ControlType.Bool
CONTROLS = {
    c.name: c
    for c in (
        _control("AeEnable", _B),
        _control("ExposureTimeMode", _I32),
        _control("ExposureTime", _I32),
        _control("AnalogueGainMode", _I32),
        _control("AnalogueGain", _F),
        _control("ExposureValue", _F),
        _control("AeMeteringMode", _I32),
        _control("AwbEnable", _B),
        _control("AwbMode", _I32),
        _control("ColourGains", _F),
        _control("Brightness", _F),
        _control("Contrast", _F),
        _control("Saturation", _F),
        _control("Sharpness", _F),
        _control("ScalerCrop", ControlType.Rectangle),
        _control("FrameDurationLimits", _I64),
        _control("NoiseReductionMode", _I32),
        _control("AfMode", _I32),
        _control("AfTrigger", _I32),
        _control("AfRange", _I32),
        _control("AfSpeed", _I32),
        _control("LensPosition", _F),
        # metadata only
        _control("SensorTimestamp", _I64),
        _control("FrameDuration", _I64),
        _control("DigitalGain", _F),
        _control("Lux", _F),
        _control("ColourTemperature", _I32),
        _control("SensorBlackLevels", _I32),
        _control("FocusFoM", _I32),
        _control("AfState", _I32),
        _control("AfPauseState", _I32),
    )
}
PROPERTIES = {
    c.name: c
    for c in (
        _control("Model", ControlType.String),
        _control("Location", _I32),
        _control("Rotation", _I32),
        _control("PixelArraySize", ControlType.Size),
        _control("PixelArrayActiveAreas", ControlType.Rectangle),
        _control("ScalerCropMaximum", ControlType.Rectangle),
        _control("UnitCellSize", ControlType.Size),
        _control("ColorFilterArrangement", _I32),
        _control("SensorSensitivity", _F),
        _control("SystemDevices", _I64),
    )
}


class AfModeEnum(enum.IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2


class AfTriggerEnum(enum.IntEnum):
    Start = 0
    Cancel = 1


class AfStateEnum(enum.IntEnum):
    Idle = 0
    Scanning = 1
    Focused = 2
    Failed = 3


class ExposureTimeModeEnum(enum.IntEnum):
    Auto = 0
    Manual = 1


class NoiseReductionModeEnum(enum.IntEnum):
    Off = 0
    Fast = 1
    HighQuality = 2
    Minimal = 3
    ZSL = 4


class ColorFilterArrangementEnum(enum.IntEnum):
    RGGB = 0
    GRBG = 1
    GBRG = 2
    BGGR = 3
    RGB = 4
    MONO = 5
