"""Any camera OpenCV can open: a USB document camera (`0`, `/dev/video0`), or a video file for tests.

UVC cameras keep a few frames buffered, so a still taken on the pedal would show the page as it lay a
moment ago: a few frames are dropped first. Locking uses V4L2's controls through OpenCV's properties;
a camera that refuses one says so in what `lock` returns (cheap cameras often have no manual focus).
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.camera import CameraError, small

STALE_FRAMES = 3
"""Frames a UVC camera may hold in its buffer; dropped before a still."""
V4L2_MANUAL_EXPOSURE = 1  # V4L2_EXPOSURE_MANUAL as OpenCV's CAP_PROP_AUTO_EXPOSURE takes it on V4L2
LARGEST = (10_000, 10_000)
"""Asked for when the config says `full`: a V4L2 driver answers a size it has not got with the nearest it has
(uvcvideo: the mode whose area differs least), which for a size beyond every mode is the largest."""


class OpenCVCamera:
    shoots_itself = False

    def __init__(self, source: str, size: tuple[int, int] | None) -> None:
        """`size` None is the camera's largest mode."""
        self.source: int | str = int(source) if source.isdigit() else source
        self.size = size or LARGEST
        self.device = f"opencv {source}"
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            raise CameraError(f"camera {self.source!r} cannot be opened: is it plugged in, and is it the right one?")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        self._cap = cap

    def _capture(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise CameraError(f"camera {self.source!r} is not open")
        return self._cap

    def lock(self) -> dict[str, object]:
        """Hold the camera's current exposure, white balance and focus (each as far as the camera lets us)."""
        cap = self._capture()
        held = {
            "exposure": cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_MANUAL_EXPOSURE)
            and cap.set(cv2.CAP_PROP_EXPOSURE, cap.get(cv2.CAP_PROP_EXPOSURE)),
            "white_balance": cap.set(cv2.CAP_PROP_AUTO_WB, 0),
            "focus": cap.set(cv2.CAP_PROP_AUTOFOCUS, 0),
        }
        return {name: "locked" if ok else "not supported by this camera" for name, ok in held.items()}

    def unlock(self) -> None:
        if self._cap is not None:
            self._cap.set(cv2.CAP_PROP_AUTO_WB, 1)
            self._cap.set(cv2.CAP_PROP_AUTOFOCUS, 1)

    def _frame(self) -> np.ndarray:
        ok, frame = self._capture().read()
        if not ok or frame is None:
            raise CameraError(f"camera {self.source!r} gave no frame (unplugged, or the end of a video file)")
        return frame

    def preview(self) -> np.ndarray:
        return small(self._frame())

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        cap = self._capture()
        for _ in range(STALE_FRAMES):
            cap.grab()
        return self._frame()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
