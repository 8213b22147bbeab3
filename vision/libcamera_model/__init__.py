"""libcamera's Python bindings at their API, with modelled Raspberry Pi camera modules looking at the stand.

picamera2 drives a Pi camera through the `libcamera` module (pybind11 bindings of Raspberry Pi's libcamera
0.5) and the kernel's DMA heap for frame buffers. Neither exists off a Pi, so this model stands in for both,
as `rfid/mfrc522_model.py` stands in for the SPI bus: the real picamera2 package runs on top, unchanged, and
the backend in `vision/camera_picamera2.py` is tested on the code paths a Pi runs.

What is modelled, after libcamera's documentation and Raspberry Pi's pipeline (VC4, a Pi 4 or Zero 2 W):
- the camera manager (a process-wide singleton with an event fd that wakes picamera2's listener), cameras
  with their properties and controls, acquire / release;
- configurations: roles, validation (a raw stream must be a sensor mode; at most two processed streams, the
  second YUV and no larger than the first; sizes even and within the ISP's range; strides aligned to the
  ISP's 32 bytes, YUV420's luma to 64), statuses Valid / Adjusted / Invalid;
- requests and frame buffers on DMA-heap memory (memfd here): each frame fills every buffer of the request
  in its stream's format and stride, with the metadata a Pi reports (exposure, gain, colour gains, lux,
  autofocus state and lens position);
- the 3A a stand needs: auto exposure and white balance converging over a few frames, fixed exposure and
  gain only in manual `ExposureTimeMode` / `AnalogueGainMode` (libcamera 0.5; `AeEnable` is accepted and
  ignored, as Raspberry Pi's IPA logs "Ctrl AeEnable is not handled"), an autofocus cycle on cameras with a
  lens motor (Camera Module 3), a defocused page blurred;
- faults: no camera at all, a camera whose frames stop (a ribbon cable working loose).

What is not: raw Bayer data (a raw stream's buffers are allocated and left as they are; the copy stand never
reads them), the ISP's image processing (a frame is the simulated stand's render, scaled by exposure and
colour gains), frame timing beyond one frame per mode's frame duration.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

from vision.libcamera_model.camera import Camera, CameraManager
from vision.libcamera_model.kernel import DmaHeap, _no_display
from vision.libcamera_model.sensors import CAMERA_MODULE_3, HQ_CAMERA, Light, Mode, Module
from vision.libcamera_model.streams import (
    CameraConfiguration,
    FrameBuffer,
    FrameBufferAllocator,
    FrameMetadata,
    Request,
    Stream,
    StreamConfiguration,
    StreamFormats,
)
from vision.libcamera_model.values import (
    CONTROLS,
    PROPERTIES,
    AfModeEnum,
    AfStateEnum,
    AfTriggerEnum,
    ColorFilterArrangementEnum,
    ColorSpace,
    ControlId,
    ControlInfo,
    ControlType,
    ExposureTimeModeEnum,
    NoiseReductionModeEnum,
    Orientation,
    PixelFormat,
    Rectangle,
    SensorConfiguration,
    Size,
    StreamRole,
    Transform,
)

__all__ = ["CAMERA_MODULE_3", "HQ_CAMERA", "AfModeEnum", "ExposureTimeModeEnum", "Light", "Mode", "Module", "install"]


# -- installing it -----------------------------------------------------------------------------------------


@dataclass
class Installed:
    manager: CameraManager
    heap: DmaHeap


_installed: Installed | None = None


def install() -> Installed:
    """Put the model in as `libcamera` (once per process) and route picamera2's DMA heap to it.

    Refuses where a real libcamera is importable: on a Pi the model must never hide the camera.
    """
    global _installed
    if _installed is not None:
        return _installed
    existing = sys.modules.get("libcamera")
    real = existing is not None and not getattr(existing, "MODEL", False)
    if real or (existing is None and importlib.util.find_spec("libcamera") is not None):
        raise RuntimeError("a real libcamera is installed here: the model is for machines without a camera")
    package = ModuleType("libcamera")
    package.MODEL = True  # type: ignore[attr-defined]
    package.__path__ = []  # type: ignore[attr-defined] # a package, so `libcamera.controls` imports
    names = (
        StreamRole, ControlType, Orientation, Size, Rectangle, PixelFormat, Transform, ColorSpace,
        SensorConfiguration, ControlId, ControlInfo, FrameMetadata, FrameBuffer, Stream, StreamFormats,
        StreamConfiguration, CameraConfiguration, Request, FrameBufferAllocator, Camera, CameraManager,
    )  # fmt: skip
    for cls in names:
        setattr(package, cls.__name__, cls)
    binary = ModuleType("libcamera._libcamera")
    binary.__dict__.update({cls.__name__: cls for cls in names})
    controls = ModuleType("libcamera.controls")
    controls.__dict__.update(CONTROLS)
    controls.__dict__.update(
        AfModeEnum=AfModeEnum, AfTriggerEnum=AfTriggerEnum, AfStateEnum=AfStateEnum,
        ExposureTimeModeEnum=ExposureTimeModeEnum, AnalogueGainModeEnum=ExposureTimeModeEnum,
        draft=SimpleNamespace(
            NoiseReductionModeEnum=NoiseReductionModeEnum, NoiseReductionMode=CONTROLS["NoiseReductionMode"]
        ),
    )  # fmt: skip
    properties = ModuleType("libcamera.properties")
    properties.__dict__.update(PROPERTIES)
    properties.draft = SimpleNamespace(ColorFilterArrangementEnum=ColorFilterArrangementEnum)  # type: ignore[attr-defined]
    package._libcamera, package.controls, package.properties = binary, controls, properties  # type: ignore[attr-defined]
    sys.modules.update(
        {"libcamera": package, "libcamera._libcamera": binary, "libcamera.controls": controls,
         "libcamera.properties": properties}
    )  # fmt: skip
    if importlib.util.find_spec("pykms") is None:
        sys.modules["pykms"] = _no_display()
    heap = DmaHeap()
    import picamera2.allocators.dmaallocator as allocator
    import picamera2.dma_heap as kernel

    kernel.os, kernel.fcntl = heap.os, heap.fcntl  # type: ignore[attr-defined]
    allocator.os, allocator.fcntl = heap.os, heap.fcntl  # type: ignore[attr-defined]
    _installed = Installed(CameraManager.singleton(), heap)
    return _installed
