"""The modelled camera modules: their sensor modes, the ISP's formats and strides, the stand's light."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

# -- the modelled camera modules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    format: str  # the raw format, e.g. SRGGB12_CSI2P
    size: tuple[int, int]
    fps: float

    @property
    def bit_depth(self) -> int:
        return int(self.format.split("_")[0][-2:])


@dataclass(frozen=True)
class Module:
    """A camera module as the model knows it: its sensor's modes and whether its lens has a motor."""

    model: str
    address: str
    pixel_array: tuple[int, int]
    modes: tuple[Mode, ...]
    autofocus: bool = False
    max_gain: float = 16.0


HQ_CAMERA = Module(
    "imx477",
    "/base/soc/i2c0mux/i2c@1/imx477@1a",
    (4056, 3040),
    (
        Mode("SRGGB10_CSI2P", (1332, 990), 120.05),
        Mode("SRGGB12_CSI2P", (2028, 1080), 50.03),
        Mode("SRGGB12_CSI2P", (2028, 1520), 40.01),
        Mode("SRGGB12_CSI2P", (4056, 3040), 10.0),
    ),
    max_gain=22.26,
)
"""Raspberry Pi's HQ camera (Sony IMX477, 12.3 MP), with its modes as `rpicam-hello --list-cameras` lists them."""
CAMERA_MODULE_3 = Module(
    "imx708",
    "/base/soc/i2c0mux/i2c@1/imx708@1a",
    (4608, 2592),
    (
        Mode("SRGGB10_CSI2P", (1536, 864), 120.13),
        Mode("SRGGB10_CSI2P", (2304, 1296), 56.03),
        Mode("SRGGB10_CSI2P", (4608, 2592), 14.35),
    ),
    autofocus=True,
)
"""Camera Module 3 (Sony IMX708, 11.9 MP), with its lens motor."""

PROCESSED = {"RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4, "YUV420": 1.5}
"""Pixel formats the ISP writes, with bytes per pixel."""
ISP_MIN, ISP_MAX = (64, 64), (16384, 16384)
MAX_EXPOSURE_US = 66_666
"""The longest exposure the modelled sensors take (µs)."""
REFERENCE_EXPOSURE = 10_000.0
"""Exposure time (µs) times gain at which a frame is the stand's render as it is, under the stand's light."""
AE_STEP = 0.5
"""Auto exposure and white balance go this far (in log terms for exposure) towards their aim each frame."""
STARTUP_FRAMES = 12
"""At most this many frames after a start are startup frames, until exposure and white balance settle."""


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def row_stride(fmt: str, width: int) -> int:
    """Bytes from one row to the next, as the ISP (and Unicam, for raw) align them."""
    if fmt in PROCESSED:
        return _align(width, 64) if fmt == "YUV420" else _align(int(width * PROCESSED[fmt]), 32)
    bits = int(fmt.split("_")[0][-2:])
    return _align(width * bits // 8, 32)


def buffer_size(fmt: str, width: int, height: int) -> int:
    """A frame's bytes: the rows, and for YUV420 the two quarter-size chroma planes after them."""
    stride = row_stride(fmt, width)
    return stride * height * 3 // 2 if fmt == "YUV420" else stride * height


Subject = Callable[[], Hashable]
"""What the camera looks at now, as a key: the same key is the same picture (so its render is kept)."""
Render = Callable[[Hashable, tuple[int, int]], np.ndarray]
"""Draws the picture a key names at a size, in BGR: the frame a correctly exposed, focused camera would give."""


@dataclass
class Light:
    """The stand's light: how bright (1.0 is what the stand was set up with) and its tint on R, G, B."""

    level: float = 1.0
    tint: tuple[float, float, float] = (1.08, 1.0, 0.86)  # a warm LED panel
