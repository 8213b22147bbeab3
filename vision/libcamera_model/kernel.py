"""The kernel side picamera2 reaches past libcamera: the DMA heap, and the display library it imports."""

from __future__ import annotations

import enum
import fcntl
import os
from types import ModuleType

# -- the kernel's DMA heap ---------------------------------------------------------------------------------


def memfd(name: str, length: int) -> int:
    """Memory a file descriptor names, as a dma-buf is: it maps the same (MAP_SHARED) in every mapping."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.ftruncate(fd, length)
    return fd


class _Routed:
    """A module with some of its functions routed elsewhere; every other name is the module's own."""

    def __init__(self, module: ModuleType, **routed: object) -> None:
        self._module = module
        self.__dict__.update(routed)

    def __getattr__(self, name: str) -> object:  # only for names not routed
        return getattr(self._module, name)


class DmaHeap:
    """/dev/dma_heap/* and the dma-buf ioctls picamera2 makes on it, routed here; every other call goes to
    the real `os` and `fcntl`. A buffer is a memfd, which maps as a dma-buf does; syncing one is a no-op.
    """

    HEAPS = ("/dev/dma_heap/vidbuf_cached", "/dev/dma_heap/linux,cma")

    def __init__(self, capacity: int = 512 << 20) -> None:
        self.capacity = capacity
        """Bytes the heap (the Pi's CMA) can give out at once."""
        self.handles: set[int] = set()
        self.buffers: dict[int, int] = {}
        self.os = _Routed(os, open=self._open, close=self._close)
        self.fcntl = _Routed(fcntl, ioctl=self._ioctl)

    @property
    def used(self) -> int:
        return sum(self.buffers.values())

    def _open(self, path, flags, *args, **kwargs):
        if path in self.HEAPS:
            fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            self.handles.add(fd)
            return fd
        return os.open(path, flags, *args, **kwargs)

    def _close(self, fd: int) -> None:
        self.handles.discard(fd)
        self.buffers.pop(fd, None)
        os.close(fd)

    def _ioctl(self, fd, request, arg=0, *rest):
        from picamera2 import dma_heap as kernel

        if fd in self.handles and request == kernel.DMA_HEAP_IOCTL_ALLOC:
            if self.used + arg.len > self.capacity:
                raise OSError(12, "Cannot allocate memory")  # what the ioctl gives when the CMA is used up
            arg.fd = memfd("dmabuf", arg.len)
            self.buffers[arg.fd] = arg.len
            return 0
        if fd in self.buffers and request in (kernel.DMA_BUF_SET_NAME, kernel.DMA_BUF_IOCTL_SYNC):
            return 0
        return fcntl.ioctl(fd, request, arg, *rest)


def _no_display() -> ModuleType:
    """A stand-in for pykms (kms++), the DRM display library picamera2 imports for its preview window.

    Raspberry Pi OS installs it with python3-picamera2; PyPI has no release of it (a package named `kms` there
    is something else entirely: never install it). The stand shows no preview window, so nothing reaches this;
    if something did, it would fail saying why.
    """
    module = ModuleType("pykms")

    def card(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no DRM display in the libcamera model: pykms is a stand-in here")

    module.Card = card  # type: ignore[attr-defined]
    # DRM's fourccs by kms++'s names: picamera2's DRM preview lists them when its class is made.
    module.PixelFormat = enum.Enum(  # type: ignore[attr-defined]
        "PixelFormat",
        {"RGB888": "RG24", "BGR888": "BG24", "XRGB8888": "XR24", "XBGR8888": "XB24", "ARGB8888": "AR24",
         "ABGR8888": "AB24", "YUV420": "YU12", "YVU420": "YV12", "NV12": "NV12", "YUYV": "YUYV", "YVYU": "YVYU"},
    )  # fmt: skip
    return module
