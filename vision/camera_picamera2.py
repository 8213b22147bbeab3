"""The Pi's own cameras (HQ camera, Camera Module 3) through picamera2, at full resolution.

picamera2 and libcamera come from Debian's packages (`python3-picamera2`), not from PyPI: the virtual
environment must see the system's packages (`--system-site-packages`, docs/DEPLOY.md). A session locks
what the automatic controls settled on: exposure time, analogue gain and colour gains, and, on a camera
with autofocus, focus after one autofocus cycle on the first page.

Written for libcamera 0.5 (Raspberry Pi OS since 2025): a fixed exposure and gain need their modes set to
manual, which picamera2 does when it is given an exposure time or a gain, and clears when it is given 0;
`AeEnable` is accepted there and ignored. Every wait for a frame is bounded, so a camera whose frames stop
(a ribbon cable working loose) is reported, not waited on for ever. The tests run this module on the real
picamera2 package over a model of libcamera (vision/libcamera_model/).
"""

from __future__ import annotations

import errno
import logging

import cv2
import numpy as np

from vision.camera import PREVIEW_WIDTH, CameraError

log = logging.getLogger(__name__)

FRAME_WAIT_S = 5.0
"""How long a preview or the metadata may take: a camera running delivers a frame in well under a second."""

LORES = (PREVIEW_WIDTH * 2, PREVIEW_WIDTH * 3 // 2)
"""The low-resolution stream the previews come from (YUV420, so both sides even)."""
AF_MODE_MANUAL = 0  # libcamera's controls.AfModeEnum.Manual


class Picamera2Camera:
    shoots_itself = False

    def __init__(self, size: tuple[int, int] | None, index: int = 0) -> None:
        """`size` None is the sensor's full size: Camera Module 3's 4608 x 2592 is not 4:3, and asking it for
        the HQ camera's 4056 x 3040 would have the ISP crop the sides off and scale the rest up."""
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
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraError(f"camera {self.index} cannot be started: is the ribbon cable seated? ({exc})") from exc
        size = self.size or tuple(cam.sensor_resolution)
        try:
            # RGB888 is laid out B, G, R in memory: what OpenCV calls BGR.
            config = cam.create_still_configuration(
                main={"size": size, "format": "RGB888"}, lores={"size": LORES, "format": "YUV420"}, display=None
            )
            cam.configure(config)
            cam.start()
        except (RuntimeError, OSError) as exc:
            cam.close()  # released, so the next attempt can have it
            w, h = size
            if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
                raise CameraError(
                    f"camera {self.index}: no room for {w}x{h} frame buffers in the camera memory (CMA); "
                    f"raise it as docs/DEPLOY.md says ({exc})"
                ) from exc
            raise CameraError(f"camera {self.index} cannot take {w}x{h} stills ({exc})") from exc
        model = cam.camera_properties.get("Model", "?")
        self.device = f"picamera2 {model}"
        self._cam = cam
        (w, h), (sw, sh) = size, cam.sensor_resolution
        if abs(w * sh - h * sw) > 0.01 * w * sh:  # not the sensor's shape: the ISP crops, then scales
            log.warning(
                'camera %d (%s) is %dx%d: a %dx%d still is cut from its middle and scaled; resolution = "full" '
                "shoots the whole sensor",
                *(self.index, model, sw, sh, w, h),
            )

    def _camera(self):  # picamera2's Picamera2 type exists only on a Pi: unannotated
        if self._cam is None:
            raise CameraError(f"camera {self.index} is not open")
        return self._cam

    def lock(self) -> dict[str, object]:
        cam = self._camera()
        if "AfMode" in cam.camera_controls:
            self._wait("an autofocus cycle", cam.autofocus_cycle, FRAME_WAIT_S)
        metadata = self._wait("the exposure", cam.capture_metadata, FRAME_WAIT_S)
        # An exposure time and a gain turn their modes to manual (picamera2 adds the mode controls).
        controls: dict[str, object] = dict(
            ExposureTime=int(metadata["ExposureTime"]),
            AnalogueGain=float(metadata["AnalogueGain"]),
            AwbEnable=False,
            ColourGains=tuple(metadata["ColourGains"]),
        )
        if "AfMode" in cam.camera_controls and "LensPosition" in metadata:
            controls.update(AfMode=AF_MODE_MANUAL, LensPosition=float(metadata["LensPosition"]))
        cam.set_controls(controls)
        return controls

    def unlock(self) -> None:
        if self._cam is not None:  # 0 hands exposure and gain back to the automatic controls
            self._cam.set_controls({"ExposureTime": 0, "AnalogueGain": 0, "AwbEnable": True})

    def preview(self) -> np.ndarray:
        yuv = self._wait("a preview", lambda wait: self._camera().capture_array("lores", wait=wait), FRAME_WAIT_S)
        return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        return self._wait("a photo", lambda wait: self._camera().capture_array("main", wait=wait), timeout_s)

    def _wait(self, what: str, call, timeout_s: float):  # picamera2's return types exist only on a Pi
        """`call(wait=timeout_s)`, its timeout a CameraError; the job left waiting is cancelled.

        picamera2 takes `wait=0` (falsy) as "do not wait" and hands back a job instead of the frame: a timeout of
        0 or less waits a millisecond instead.
        """
        try:
            return call(wait=max(timeout_s, 0.001))
        except TimeoutError as exc:
            self._camera().cancel_all_and_flush()
            raise CameraError(
                f"camera {self.index} gave no frame for {what} within {timeout_s:g} s: is the ribbon cable seated?"
            ) from exc

    def close(self) -> None:
        if self._cam is not None:
            self._cam.stop()
            self._cam.close()
            self._cam = None
