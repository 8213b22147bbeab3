"""The camera over the copy stand, behind one small interface, whatever it really is.

A stand's light does not change, so a session locks exposure, gain, white balance and focus once at its
start: every page of a dossier then comes out alike, and a camera hunting for focus never blurs a page.
Which backend runs is chosen once, from the stand's config (`open_camera`); the capture session never asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from hardware.config import CopyStand
    from vision.standsim import StandScene

SIZES = {"2mp": (1632, 1224), "5mp": (2592, 1944), "12mp": (4056, 3040)}
"""Still sizes by the config's name: 2 and 5 MP document cameras, the Pi HQ camera's full 12.3 MP. The config's
`full` is no size here: each backend asks its camera for its own largest (see `open_camera`)."""
PREVIEW_WIDTH = 320
"""Previews only decide when to shoot (is the page still, is a hand over it): small is fast and enough."""


class CameraError(RuntimeError):
    """The camera cannot be opened or did not deliver; the message says what to check."""


class Camera(Protocol):
    """What a capture session needs of a camera."""

    device: str
    """What the page's metadata records as the device, e.g. `picamera2 imx477`."""
    shoots_itself: bool
    """True when photos arrive on their own (a tethered camera writing files): no pedal, no auto trigger."""

    def open(self) -> None: ...

    def lock(self) -> dict[str, object]:
        """Fix exposure, gain, white balance and focus for a session; returns what was locked."""
        ...

    def unlock(self) -> None: ...

    def preview(self) -> np.ndarray:
        """A small BGR frame, fast, for the auto trigger."""
        ...

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        """A full-resolution BGR photo; for a camera that shoots itself, the next one within `timeout_s`."""
        ...

    def close(self) -> None: ...


def open_camera(stand: CopyStand, *, scene: StandScene | None = None) -> Camera:
    """The stand's camera as its config names it; `scene` is what the simulated camera looks at.

    `resolution = "full"` gives the Pi cameras and OpenCV's no size (they ask the camera for its largest) and
    the simulated camera the HQ camera's.
    """
    size = SIZES.get(stand.resolution)
    if stand.camera == "sim":
        from vision.camera_sim import SimulatedCamera
        from vision.standsim import StandScene

        return SimulatedCamera(scene or StandScene(), size or SIZES["12mp"])
    if stand.camera == "picamera2":
        from vision.camera_picamera2 import Picamera2Camera

        return Picamera2Camera(size, index=int(stand.source or 0))
    if stand.camera == "opencv":
        from vision.camera_opencv import OpenCVCamera

        return OpenCVCamera(stand.source or "0", size)
    from pathlib import Path

    from vision.camera_folder import FolderCamera

    return FolderCamera(Path(stand.source))


def small(frame: np.ndarray) -> np.ndarray:
    """A frame scaled to the preview width (kept as it is when already that small)."""
    import cv2

    h, w = frame.shape[:2]
    if w <= PREVIEW_WIDTH:
        return frame
    return cv2.resize(frame, (PREVIEW_WIDTH, max(1, round(h * PREVIEW_WIDTH / w))), interpolation=cv2.INTER_AREA)
