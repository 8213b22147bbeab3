"""The Pi's own cameras (HQ camera, Camera Module 3) through picamera2, at full resolution.

picamera2 and libcamera come from Debian's packages (`python3-picamera2`), not from PyPI: the virtual
environment must see the system's packages (`--system-site-packages`, docs/DEPLOY.md). A session locks
what the automatic controls settled on: exposure time, analogue gain and colour gains, and, on a camera
with autofocus, focus after one autofocus cycle on the first page.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.camera import PREVIEW_WIDTH, CameraError

LORES = (PREVIEW_WIDTH * 2, PREVIEW_WIDTH * 3 // 2)
"""The low-resolution stream the previews come from (YUV420, so both sides even)."""
AF_MODE_MANUAL = 0  # libcamera's controls.AfModeEnum.Manual


class Picamera2Camera:
    shoots_itself = False

    def __init__(self, size: tuple[int, int], index: int = 0) -> None:
        self.size = size
        self.index = index
        self.device = f"picamera2 camera {index}"
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError(
                "picamera2 is not importable: install Debian's python3-picamera2 and create the virtual "
                f"environment with --system-site-packages ({exc})"
            ) from exc
        try:
            cam = Picamera2(self.index)
            model = cam.camera_properties.get("Model", "?")
            # RGB888 is laid out B, G, R in memory: what OpenCV calls BGR.
            config = cam.create_still_configuration(
                main={"size": self.size, "format": "RGB888"}, lores={"size": LORES, "format": "YUV420"}, display=None
            )
            cam.configure(config)
            cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraError(f"camera {self.index} cannot be started: is the ribbon cable seated? ({exc})") from exc
        self.device = f"picamera2 {model}"
        self._cam = cam

    def _camera(self):  # picamera2's Picamera2 type exists only on a Pi: unannotated
        if self._cam is None:
            raise CameraError(f"camera {self.index} is not open")
        return self._cam

    def lock(self) -> dict[str, object]:
        cam = self._camera()
        controls: dict[str, object] = {}
        if "AfMode" in cam.camera_controls:
            cam.autofocus_cycle()
        metadata = cam.capture_metadata()
        controls.update(
            AeEnable=False,
            AwbEnable=False,
            ExposureTime=int(metadata["ExposureTime"]),
            AnalogueGain=float(metadata["AnalogueGain"]),
            ColourGains=tuple(metadata["ColourGains"]),
        )
        if "AfMode" in cam.camera_controls and "LensPosition" in metadata:
            controls.update(AfMode=AF_MODE_MANUAL, LensPosition=float(metadata["LensPosition"]))
        cam.set_controls(controls)
        return controls

    def unlock(self) -> None:
        if self._cam is not None:
            self._cam.set_controls({"AeEnable": True, "AwbEnable": True})

    def preview(self) -> np.ndarray:
        yuv = self._camera().capture_array("lores")
        return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        return self._camera().capture_array("main")

    def close(self) -> None:
        if self._cam is not None:
            self._cam.stop()
            self._cam.close()
            self._cam = None
