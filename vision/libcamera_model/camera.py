"""A connected camera module (sensor, ISP and the 3A behind `libcamera.Camera`) and the camera manager."""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import threading
import time

import cv2
import numpy as np

from vision.libcamera_model.sensors import (
    AE_STEP,
    ISP_MAX,
    ISP_MIN,
    MAX_EXPOSURE_US,
    PROCESSED,
    REFERENCE_EXPOSURE,
    STARTUP_FRAMES,
    Light,
    Module,
    Render,
    Subject,
)
from vision.libcamera_model.streams import (
    CameraConfiguration,
    FrameBuffer,
    FrameMetadata,
    Request,
    Stream,
    StreamConfiguration,
    StreamFormats,
    best_mode,
)
from vision.libcamera_model.values import (
    CONTROLS,
    PROPERTIES,
    AfModeEnum,
    AfStateEnum,
    AfTriggerEnum,
    ColorFilterArrangementEnum,
    ControlId,
    ControlInfo,
    ExposureTimeModeEnum,
    Rectangle,
    Size,
    StreamRole,
)

log = logging.getLogger(__name__)


# -- the camera and its 3A -----------------------------------------------------------------------------------


class Camera:
    """One connected camera module: the bindings' `libcamera.Camera`, and the sensor, ISP and 3A behind it."""

    def __init__(self, manager: CameraManager, module: Module, subject: Subject, render: Render) -> None:
        self._manager = manager
        self.module = module
        self.id = module.address
        self.subject, self.render = subject, render
        self.light = Light()
        self.frames_stop = False
        """A fault: the sensor delivers no more frames (a ribbon cable working loose), until cleared."""
        self.frames = 0
        """Frames delivered with their pictures (startup frames not counted)."""
        self._acquired = False
        self._streams: list[Stream] = []
        self._mode = module.modes[-1]
        self._queue: list[Request] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False
        self._maps: dict[int, mmap.mmap] = {}
        self._renders: dict[tuple, np.ndarray] = {}
        self._reset_3a()

    # the bindings' surface

    @property
    def properties(self) -> dict[ControlId, object]:
        w, h = self.module.pixel_array
        return {
            PROPERTIES["Model"]: self.module.model,
            PROPERTIES["Location"]: 2,
            PROPERTIES["Rotation"]: 0,
            PROPERTIES["PixelArraySize"]: Size(w, h),
            PROPERTIES["PixelArrayActiveAreas"]: [Rectangle(0, 0, w, h)],
            PROPERTIES["ScalerCropMaximum"]: Rectangle(0, 0, w, h),
            PROPERTIES["UnitCellSize"]: Size(1550, 1550),
            PROPERTIES["ColorFilterArrangement"]: ColorFilterArrangementEnum.RGGB,
            PROPERTIES["SensorSensitivity"]: 1.0,
        }

    @property
    def controls(self) -> dict[ControlId, ControlInfo]:
        w, h = self.module.pixel_array
        frame_us = int(1e6 / self._mode.fps)
        info = {
            "AeEnable": ControlInfo(False, True, True),
            "ExposureTimeMode": ControlInfo(0, 1, 0),
            "ExposureTime": ControlInfo(110, MAX_EXPOSURE_US, 20_000),
            "AnalogueGainMode": ControlInfo(0, 1, 0),
            "AnalogueGain": ControlInfo(1.0, self.module.max_gain, 1.0),
            "ExposureValue": ControlInfo(-8.0, 8.0, 0.0),
            "AeMeteringMode": ControlInfo(0, 3, 0),
            "AwbEnable": ControlInfo(False, True, True),
            "AwbMode": ControlInfo(0, 7, 0),
            "ColourGains": ControlInfo(0.0, 32.0),
            "Brightness": ControlInfo(-1.0, 1.0, 0.0),
            "Contrast": ControlInfo(0.0, 32.0, 1.0),
            "Saturation": ControlInfo(0.0, 32.0, 1.0),
            "Sharpness": ControlInfo(0.0, 16.0, 1.0),
            "ScalerCrop": ControlInfo(Rectangle(0, 0, 64, 64), Rectangle(0, 0, w, h), Rectangle(0, 0, w, h)),
            "FrameDurationLimits": ControlInfo(frame_us, 1_000_000_000, frame_us),
            "NoiseReductionMode": ControlInfo(0, 4, 0),
        }
        if self.module.autofocus:
            info |= {
                "AfMode": ControlInfo(0, 2, 0),
                "AfTrigger": ControlInfo(0, 1, 0),
                "AfRange": ControlInfo(0, 2, 0),
                "AfSpeed": ControlInfo(0, 1, 0),
                "LensPosition": ControlInfo(0.0, 15.0, 1.0),
            }
        return {CONTROLS[name]: value for name, value in info.items()}

    def acquire(self) -> None:
        if self._acquired:
            raise RuntimeError("Failed to acquire camera")
        self._acquired = True

    def release(self) -> None:
        if self._running:
            raise RuntimeError("Failed to release camera")
        self._acquired = False

    def generate_configuration(self, roles: list[StreamRole]) -> CameraConfiguration:
        raw_sizes: dict[str, list[tuple[int, int]]] = {}
        for mode in self.module.modes:
            raw_sizes.setdefault(mode.format, []).append(mode.size)
        processed = StreamFormats({fmt: [ISP_MIN, ISP_MAX] for fmt in PROCESSED})
        streams = []
        for role in roles:
            if role == StreamRole.Raw:
                mode = self.module.modes[-1]
                streams.append(StreamConfiguration(mode.format, mode.size, StreamFormats(raw_sizes)))
            elif role == StreamRole.StillCapture:
                streams.append(StreamConfiguration("YUV420", self.module.pixel_array, processed))
            elif role == StreamRole.VideoRecording:
                streams.append(StreamConfiguration("YUV420", (1920, 1080), processed))
            else:
                streams.append(StreamConfiguration("XRGB8888", (800, 600), processed))
        config = CameraConfiguration(self, streams)
        config.validate()
        return config

    def configure(self, config: CameraConfiguration) -> int:
        if not self._acquired or self._running:
            return -errno.EACCES
        if config.validate() == CameraConfiguration.Status.Invalid:
            return -errno.EINVAL
        main = config.at(0).size
        sensor = config.sensor_config
        if sensor is not None:
            fits = [
                m
                for m in self.module.modes
                if m.size == (sensor.output_size.width, sensor.output_size.height) and m.bit_depth == sensor.bit_depth
            ]
            if not fits:
                return -errno.EINVAL
            self._mode = fits[0]
        else:
            self._mode = best_mode(self.module, main.width, main.height)
        self._streams = []
        for stream_config in config:
            stream_config.stream = Stream(stream_config)
            self._streams.append(stream_config.stream)
        return 0

    def create_request(self, cookie: int = 0) -> Request:
        return Request(self, cookie)

    def start(self, controls: dict[ControlId, object] | None = None) -> None:
        if not self._streams or self._running:
            raise RuntimeError("Failed to start camera")
        self._reset_3a()
        self._apply({c.name: v for c, v in (controls or {}).items()})
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"libcamera-model {self.module.model}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._cond:
            cancelled, self._queue = self._queue, []
        for request in cancelled:
            request.status = Request.Status.Cancelled
            for buffer in request.buffers.values():
                buffer.metadata.status = FrameMetadata.Status.Cancelled
            self._manager._complete(request)
        for mapped in self._maps.values():
            mapped.close()
        self._maps = {}

    def queue_request(self, request: Request) -> None:
        if not self._running:
            raise RuntimeError("Failed to queue request: the camera is not running")
        for stream, buffer in request.buffers.items():
            if buffer.planes[0].length < stream.configuration.frame_size:
                raise RuntimeError("Failed to queue request: a buffer is too small for its stream")
        with self._cond:
            self._queue.append(request)
            self._cond.notify_all()

    # the sensor and the 3A

    def _reset_3a(self) -> None:
        self.exposure_mode = self.gain_mode = ExposureTimeModeEnum.Auto
        self.exposure_us, self.gain = 20_000.0, 1.0
        self.awb = True
        self.colour_gains = (1.0, 1.0)
        self.af_mode, self.af_state = AfModeEnum.Manual, AfStateEnum.Idle
        self.lens = 1.0
        self._af_frames = 0

    @property
    def in_focus(self) -> float:
        """The lens position (dioptres) that focuses on the stand's page, some 45 cm below the camera."""
        return 1 / 0.45

    def _apply(self, controls: dict[str, object]) -> None:
        """Controls of a request, applied as Raspberry Pi's IPA (libcamera 0.5) applies them."""
        if "AeEnable" in controls:
            log.warning("libcamera model: Ctrl AeEnable is not handled.")  # the IPA's own warning, and no effect
        if "ExposureTimeMode" in controls:
            self.exposure_mode = ExposureTimeModeEnum(int(controls["ExposureTimeMode"]))  # type: ignore[call-overload]
        if "AnalogueGainMode" in controls:
            self.gain_mode = ExposureTimeModeEnum(int(controls["AnalogueGainMode"]))  # type: ignore[call-overload]
        if "ExposureTime" in controls and self.exposure_mode == ExposureTimeModeEnum.Manual:
            self.exposure_us = float(controls["ExposureTime"])  # type: ignore[arg-type]
        if "AnalogueGain" in controls and self.gain_mode == ExposureTimeModeEnum.Manual:
            self.gain = min(max(float(controls["AnalogueGain"]), 1.0), self.module.max_gain)  # type: ignore[arg-type]
        if "AwbEnable" in controls:
            self.awb = bool(controls["AwbEnable"])
        if "ColourGains" in controls and not self.awb:
            red, blue = controls["ColourGains"]  # type: ignore[misc]
            self.colour_gains = (float(red), float(blue))
        if self.module.autofocus:
            if "AfMode" in controls:
                self.af_mode = AfModeEnum(int(controls["AfMode"]))  # type: ignore[call-overload]
                if self.af_mode == AfModeEnum.Manual:
                    self.af_state = AfStateEnum.Idle
            if "LensPosition" in controls and self.af_mode == AfModeEnum.Manual:
                self.lens = min(max(float(controls["LensPosition"]), 0.0), 15.0)  # type: ignore[arg-type]
            if controls.get("AfTrigger") == AfTriggerEnum.Start and self.af_mode == AfModeEnum.Auto:
                self.af_state, self._af_frames = AfStateEnum.Scanning, 0

    def _step_3a(self) -> None:
        """One frame of auto exposure, white balance and focus."""
        want, gains = self._aims()
        have = self.exposure_us * self.gain
        if self.exposure_mode == ExposureTimeModeEnum.Auto or self.gain_mode == ExposureTimeModeEnum.Auto:
            total = have * (want / have) ** AE_STEP
            if self.exposure_mode == ExposureTimeModeEnum.Auto:
                self.exposure_us = min(
                    total / (self.gain if self.gain_mode == ExposureTimeModeEnum.Manual else 1), MAX_EXPOSURE_US
                )
            if self.gain_mode == ExposureTimeModeEnum.Auto:
                self.gain = min(max(total / self.exposure_us, 1.0), self.module.max_gain)
        if self.awb:
            self.colour_gains = tuple(
                old + (aim - old) * AE_STEP for old, aim in zip(self.colour_gains, gains, strict=True)
            )  # type: ignore[assignment]
        if self.module.autofocus and self.af_state == AfStateEnum.Scanning:
            self._af_frames += 1
            self.lens += (self.in_focus - self.lens) * 0.5
            if self._af_frames >= 6:
                self.lens, self.af_state = self.in_focus, AfStateEnum.Focused

    def _settled(self) -> bool:
        """Exposure and white balance within 2 % of their aim (or fixed)."""
        aim, gains = self._aims()
        manual = self.exposure_mode == self.gain_mode == ExposureTimeModeEnum.Manual
        exposure = manual or abs(self.exposure_us * self.gain / aim - 1) < 0.02
        balance = not self.awb or all(abs(g / a - 1) < 0.02 for g, a in zip(self.colour_gains, gains, strict=True))
        return exposure and balance

    def _aims(self) -> tuple[float, tuple[float, float]]:
        """Where auto exposure and white balance steer under the light now: exposure time times gain, and the
        red and blue gains that undo the light's tint."""
        r, _, b = self.light.tint
        return REFERENCE_EXPOSURE / max(self.light.level, 1e-3), (1 / r, 1 / b)

    def _frame(self, size: tuple[int, int]) -> np.ndarray:
        """The subject as this camera would see it now, at an output size, in BGR."""
        key = self.subject()
        blur = round(abs(self.lens - self.in_focus) * 4, 1) if self.module.autofocus else 0.0
        cache = (key, size, blur)
        frame = self._renders.get(cache)
        if frame is None:
            frame = self.render(key, size)
            if blur >= 0.5:  # a defocused lens: a blur that grows with the error, in pixels of a 4k-wide frame
                sigma = blur * size[0] / 4056 * 4
                frame = cv2.GaussianBlur(frame, (0, 0), sigma)
            self._renders = {k: v for k, v in self._renders.items() if k[0] == key} | {cache: frame}
        exposure = self.exposure_us * self.gain * self.light.level / REFERENCE_EXPOSURE
        red, blue = self.colour_gains
        tint_r, tint_g, tint_b = self.light.tint
        scale = np.array([tint_b * blue, tint_g, tint_r * red]) * exposure
        lut = np.clip(np.arange(256)[:, None] * scale[None, :] + 0.5, 0, 255).astype(np.uint8)
        return cv2.LUT(frame, lut.reshape(1, 256, 3))

    def _write(self, stream: Stream, buffer: FrameBuffer) -> None:
        config = stream.configuration
        fmt, w, h, stride = str(config.pixel_format), config.size.width, config.size.height, config.stride
        if fmt not in PROCESSED:
            return  # raw Bayer data is not modelled; the stand never reads it
        plane = buffer.planes[0]
        mapped = self._maps.get(plane.fd)
        if mapped is None:
            mapped = mmap.mmap(plane.fd, plane.length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self._maps[plane.fd] = mapped
        memory = np.frombuffer(mapped, np.uint8, config.frame_size, plane.offset)
        bgr = self._frame((w, h))
        if fmt == "YUV420":
            # OpenCV's BT.601 conversion; the backend converts back with its inverse.
            planes = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
            luma = memory[: stride * h].reshape(h, stride)
            luma[:, :w] = planes[:h]
            chroma = memory[stride * h :].reshape(h, stride // 2)
            chroma[:, : w // 2] = planes[h:].reshape(h, w // 2)
            return
        # libcamera names formats as DRM does, by the little-endian word: RGB888 is B, G, R in memory.
        order = {"RGB888": bgr, "BGR888": bgr[..., ::-1], "XRGB8888": None, "XBGR8888": None}[fmt]
        if order is None:
            channels = bgr if fmt == "XRGB8888" else bgr[..., ::-1]
            order = np.dstack([channels, np.full((h, w), 255, np.uint8)])
        rows = memory.reshape(h, stride)
        rows[:, : w * order.shape[2]] = order.reshape(h, -1)

    def _run(self) -> None:
        """The sensor: a frame every frame time; each fills the oldest queued request, or is dropped."""
        sequence, next_at = 0, time.monotonic()
        while True:
            with self._cond:
                while self._running and time.monotonic() < next_at:
                    self._cond.wait(next_at - time.monotonic())
                if not self._running:
                    return
                frame_s = max(1 / self._mode.fps, self.exposure_us / 1e6)
                next_at = max(next_at + frame_s, time.monotonic())
                request = self._queue.pop(0) if self._queue and not self.frames_stop else None
            if self.frames_stop:
                continue
            if request is not None:
                self._apply(request._controls)
            self._step_3a()
            sequence += 1
            if request is None:
                continue  # no buffer to fill: the frame is dropped
            startup = sequence <= STARTUP_FRAMES and not self._settled()
            status = FrameMetadata.Status.Startup if startup else FrameMetadata.Status.Success
            for stream, buffer in request.buffers.items():
                if not startup:
                    self._write(stream, buffer)
                buffer.metadata.status, buffer.metadata.sequence = status, sequence
                buffer.metadata.timestamp = time.monotonic_ns()
            request.metadata, request.sequence = self._metadata(frame_s), sequence
            request.status = Request.Status.Complete
            self.frames += not startup
            self._manager._complete(request)

    def _metadata(self, frame_s: float) -> dict[ControlId, object]:
        made: dict[str, object] = {
            "SensorTimestamp": time.monotonic_ns(),
            "FrameDuration": int(frame_s * 1e6),
            "ExposureTime": int(self.exposure_us),
            "AnalogueGain": float(self.gain),
            "DigitalGain": 1.0,
            "ColourGains": tuple(float(g) for g in self.colour_gains),
            "ColourTemperature": 3900,
            "Lux": 400.0 * self.light.level,
            "SensorBlackLevels": (4096, 4096, 4096, 4096),
            "ScalerCrop": Rectangle(0, 0, *self.module.pixel_array),
            "FocusFoM": int(1000 / (1 + abs(self.lens - self.in_focus))),
        }
        if self.module.autofocus:
            made |= {"AfState": int(self.af_state), "AfPauseState": 0, "LensPosition": float(self.lens)}
        return {CONTROLS[name]: value for name, value in made.items()}


class CameraManager:
    """libcamera's camera manager: one per process, waking its listener through `event_fd`."""

    _instance: CameraManager | None = None

    def __init__(self) -> None:
        self.version = "v0.5.2+model"
        self.cameras: list[Camera] = []
        self.event_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._ready: list[Request] = []
        self._lock = threading.Lock()

    @classmethod
    def singleton(cls) -> CameraManager:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get(self, camera_id: str) -> Camera:
        return next(c for c in self.cameras if c.id == camera_id)

    def get_ready_requests(self) -> list[Request]:
        with contextlib.suppress(BlockingIOError):  # nothing new since the last call
            os.eventfd_read(self.event_fd)
        with self._lock:
            ready, self._ready = self._ready, []
        return ready

    def _complete(self, request: Request) -> None:
        with self._lock:
            self._ready.append(request)
        os.eventfd_write(self.event_fd, 1)

    # the model's own: plugging modules in

    def connect(self, module: Module, subject: Subject, render: Render) -> Camera:
        camera = Camera(self, module, subject, render)
        self.cameras.append(camera)
        return camera

    def disconnect(self, camera: Camera) -> None:
        if camera._running:
            camera.stop()
        self.cameras.remove(camera)
