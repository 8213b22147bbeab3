"""Configurations, streams, frame buffers and requests, as libcamera's bindings hand them to picamera2."""

from __future__ import annotations

import enum
from types import SimpleNamespace
from typing import TYPE_CHECKING

from vision.libcamera_model.kernel import memfd
from vision.libcamera_model.sensors import ISP_MAX, ISP_MIN, PROCESSED, Mode, Module, buffer_size, row_stride
from vision.libcamera_model.values import ColorSpace, ControlId, Orientation, PixelFormat, SensorConfiguration, Size

if TYPE_CHECKING:
    from vision.libcamera_model.camera import Camera


# -- frame buffers, requests, configurations -----------------------------------------------------------------


class FrameMetadata:
    class Status(enum.IntEnum):
        Success = 0
        Error = 1
        Cancelled = 2
        Startup = 3  # libcamera 0.5: a frame from before the algorithms settled; picamera2 drops it

    def __init__(self) -> None:
        self.status = self.Status.Success
        self.sequence = 0
        self.timestamp = 0
        self.planes: list[SimpleNamespace] = []


class FrameBuffer:
    class Plane:
        def __init__(self) -> None:
            self.fd = -1
            self.offset = 0
            self.length = 0

    def __init__(self, planes: list[FrameBuffer.Plane], cookie: int = 0) -> None:
        self.planes = list(planes)
        self.cookie = cookie
        self.metadata = FrameMetadata()
        self.metadata.planes = [SimpleNamespace(bytes_used=p.length) for p in self.planes]


class Stream:
    def __init__(self, config: StreamConfiguration) -> None:
        self.configuration = config


class StreamFormats:
    def __init__(self, sizes: dict[str, list[tuple[int, int]]]) -> None:
        self._sizes = sizes

    @property
    def pixel_formats(self) -> list[PixelFormat]:
        return [PixelFormat(name) for name in self._sizes]

    def sizes(self, pixel_format: PixelFormat) -> list[Size]:
        return [Size(*s) for s in self._sizes.get(str(pixel_format), [])]


class StreamConfiguration:
    def __init__(self, fmt: str, size: tuple[int, int], formats: StreamFormats) -> None:
        self.pixel_format = PixelFormat(fmt)
        self.size = Size(*size)
        self.stride = 0
        self.frame_size = 0
        self.buffer_count = 1
        self.color_space: ColorSpace | None = None
        self.formats = formats
        self.stream: Stream | None = None


class CameraConfiguration:
    class Status(enum.IntEnum):
        Valid = 0
        Adjusted = 1
        Invalid = 2

    def __init__(self, camera: Camera, streams: list[StreamConfiguration]) -> None:
        self._camera = camera
        self._streams = streams
        self.orientation = Orientation.Rotate0
        self.sensor_config: SensorConfiguration | None = None

    def at(self, index: int) -> StreamConfiguration:
        return self._streams[index]

    def __iter__(self):
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)

    @property
    def size(self) -> int:
        return len(self._streams)

    def validate(self) -> CameraConfiguration.Status:
        """As Raspberry Pi's VC4 pipeline handler does, in the parts a stand's configuration meets."""
        module = self._camera.module
        raws = [s for s in self._streams if str(s.pixel_format) not in PROCESSED]
        processed = [s for s in self._streams if str(s.pixel_format) in PROCESSED]
        if not self._streams or len(raws) > 1 or len(processed) > 2:
            return self.Status.Invalid
        adjusted = False
        for raw in raws:
            if str(raw.pixel_format) not in {m.format for m in module.modes}:
                return self.Status.Invalid
            mode = best_mode(module, raw.size.width, raw.size.height, raw.pixel_format.name)
            if (raw.size.width, raw.size.height) != mode.size or str(raw.pixel_format) != mode.format:
                raw.size, raw.pixel_format, adjusted = Size(*mode.size), PixelFormat(mode.format), True
        for i, stream in enumerate(processed):
            w = min(max(stream.size.width, ISP_MIN[0]), ISP_MAX[0]) & ~1
            h = min(max(stream.size.height, ISP_MIN[1]), ISP_MAX[1]) & ~1
            if i == 1:  # VC4's second output is low resolution and YUV only
                if str(stream.pixel_format) != "YUV420":
                    stream.pixel_format, adjusted = PixelFormat("YUV420"), True
                w, h = min(w, processed[0].size.width), min(h, processed[0].size.height)
            if (w, h) != (stream.size.width, stream.size.height):
                stream.size, adjusted = Size(w, h), True
        for stream in self._streams:
            fmt = str(stream.pixel_format)
            stride = row_stride(fmt, stream.size.width)
            if stream.stride and stream.stride != stride:
                adjusted = True
            stream.stride, stream.frame_size = stride, buffer_size(fmt, stream.size.width, stream.size.height)
            stream.buffer_count = max(1, stream.buffer_count)
        return self.Status.Adjusted if adjusted else self.Status.Valid


def best_mode(module: Module, width: int, height: int, fmt: str | None = None) -> Mode:
    """The sensor mode for an output size, scored as libcamera's Raspberry Pi pipeline scores them."""

    def score(mode: Mode) -> float:
        def one(desired: float, actual: float) -> float:
            d = desired - actual
            return -d / 4 if d < 0 else d * 2

        s = one(width, mode.size[0]) + one(height, mode.size[1])
        s += 1500 * one(width / max(height, 1), mode.size[0] / mode.size[1])
        if fmt is not None and fmt != mode.format:
            s += 500
        return s

    return min(module.modes, key=score)


class Request:
    class Status(enum.IntEnum):
        Pending = 0
        Complete = 1
        Cancelled = 2

    class ReuseFlag(enum.IntEnum):
        Default = 0
        ReuseBuffers = 1

    def __init__(self, camera: Camera, cookie: int) -> None:
        self._camera = camera
        self.cookie = cookie
        self.status = self.Status.Pending
        self.sequence = 0
        self.buffers: dict[Stream, FrameBuffer] = {}
        self.metadata: dict[ControlId, object] = {}
        self._controls: dict[str, object] = {}

    def add_buffer(self, stream: Stream, buffer: FrameBuffer) -> None:
        if stream not in self._camera._streams:
            raise RuntimeError("Failed to add buffer: the stream is not configured")
        self.buffers[stream] = buffer

    def set_control(self, control: ControlId, value: object) -> None:
        self._controls[control.name] = value

    def reuse(self, flags: int = ReuseFlag.ReuseBuffers) -> None:
        self.status = self.Status.Pending
        self.metadata = {}
        self._controls = {}


class FrameBufferAllocator:
    """libcamera's own allocator (picamera2's legacy `LibcameraAllocator`): memfd planes here too."""

    def __init__(self, camera: Camera) -> None:
        self._camera = camera
        self._buffers: dict[Stream, list[FrameBuffer]] = {}

    def allocate(self, stream: Stream) -> int:
        config = stream.configuration
        made = []
        for _ in range(config.buffer_count):
            plane = FrameBuffer.Plane()
            plane.fd, plane.length = memfd("libcamera", config.frame_size), config.frame_size
            made.append(FrameBuffer([plane]))
        self._buffers[stream] = made
        return len(made)

    def buffers(self, stream: Stream) -> list[FrameBuffer]:
        return self._buffers[stream]
