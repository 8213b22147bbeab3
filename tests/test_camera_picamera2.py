"""The Pi camera backend on the real picamera2 package, over a model of libcamera and the DMA heap.

The model (vision/libcamera_model/) plays a Raspberry Pi camera module looking at the simulated stand:
it answers picamera2 as libcamera 0.5 does, fills picamera2's DMA-heap buffers in each stream's format and
stride, and runs exposure, white balance and focus the way the Pi's algorithms behave at the level a stand
meets them. So what is checked here is what a Pi runs: configuration, buffers, colour order, strides,
controls, and what happens when frames stop.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gateway.copystand import CopyStandSession
from hardware.clock import ManualClock
from hardware.config import CopyStand
from vision import camera_picamera2, libcamera_model
from vision.camera import CameraError
from vision.camera_picamera2 import Picamera2Camera
from vision.camera_sim import render_view
from vision.standsim import StandScene

SIZE = (1632, 1224)  # the 2 MP still: a 12 MP render takes seconds, and strides are checked at 12 MP once


class Rig:
    """A camera module connected to the modelled Pi, looking at a stand, and our backend on picamera2."""

    def __init__(self, module: libcamera_model.Module, size: tuple[int, int] = SIZE) -> None:
        self.model = libcamera_model.install()
        self.scene = StandScene()
        self.scene.lay(3)
        self.camera = self.model.manager.connect(module, self.scene.view, self.render)
        self.backend = Picamera2Camera(size)

    def render(self, view, size):
        return render_view(view, size, self.scene.stand)

    def truth(self, size: tuple[int, int]) -> np.ndarray:
        """What the stand looks like, correctly exposed and balanced, at `size`."""
        return self.render(self.scene.view(), size)

    def open(self) -> None:
        """The backend opened, once the camera delivers: the model draws a new scene for a second or more (a
        Pi's camera takes a fraction of that), which the backend's waits for a frame are not meant to cover."""
        self.backend.open()
        self.frames_later(1)

    def frames_later(self, n: int) -> None:
        """Wait until the sensor has delivered `n` more frames (a liveness bound, not a timing)."""
        until, deadline = self.camera.frames + n, time.monotonic() + 60
        while self.camera.frames < until and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.backend.close()
        self.model.manager.disconnect(self.camera)


@pytest.fixture
def hq():
    rig = Rig(libcamera_model.HQ_CAMERA)
    yield rig
    rig.close()


@pytest.fixture
def module3():
    rig = Rig(libcamera_model.CAMERA_MODULE_3)
    yield rig
    rig.close()


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference per channel (B, G, R)."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=(0, 1))


def test_the_hq_camera_opens_by_its_model_and_a_still_comes_in_bgr_as_the_stand_looks(hq):
    hq.open()
    hq.backend.lock()
    photo = hq.backend.still()
    assert hq.backend.device == "picamera2 imx477"
    assert photo.shape == (SIZE[1], SIZE[0], 3) and photo.dtype == np.uint8
    truth = hq.truth(SIZE)
    assert difference(photo, truth).max() < 2.5  # settled exposure and white balance: the stand as it is
    # The channel order is right: red and blue swapped would be far off on the red stamps and the warm paper.
    assert difference(photo[..., ::-1], truth).max() > 2 * difference(photo, truth).max()


def test_a_full_resolution_still_keeps_its_rows_apart_whatever_the_buffers_stride(hq):
    """4056 pixels of 3 bytes are 12168 bytes a row; the ISP writes rows 32-byte aligned (12192)."""
    hq.backend = Picamera2Camera(None)  # resolution = "full": the sensor's own size
    hq.open()
    hq.backend.lock()
    photo = hq.backend.still(30)
    assert hq.backend._camera().camera_config["main"]["stride"] == 12192
    assert photo.shape == (3040, 4056, 3)
    assert difference(photo, hq.truth((4056, 3040))).max() < 2.5


def test_camera_module_3_at_full_resolution_shoots_its_whole_wide_sensor(module3, monkeypatch):
    """4608 x 2592, not the HQ camera's 4:3 4056 x 3040, which the ISP would crop from its middle and scale up."""
    monkeypatch.setattr(camera_picamera2, "FRAME_WAIT_S", 120)  # the model draws each lens position for seconds
    module3.backend = Picamera2Camera(None)
    module3.open()
    module3.backend.lock()
    photo = module3.backend.still(30)
    assert module3.backend.device == "picamera2 imx708" and photo.shape == (2592, 4608, 3)
    assert difference(photo, module3.truth((4608, 2592))).max() < 2.5


def test_a_still_size_the_sensor_is_not_shaped_for_is_named_in_the_log(caplog):
    rig = Rig(libcamera_model.CAMERA_MODULE_3, (4056, 3040))
    try:
        with caplog.at_level(logging.WARNING, "vision.camera_picamera2"):
            rig.backend.open()
    finally:
        rig.close()
    assert (
        'camera 0 (imx708) is 4608x2592: a 4056x3040 still is cut from its middle and scaled; resolution = "full"'
        in caplog.text
    )


def test_previews_come_from_the_small_yuv_stream_and_look_like_the_stand(hq):
    hq.open()
    preview = hq.backend.preview()
    assert preview.shape == (480, 640, 3)
    hq.frames_later(15)  # exposure settles
    assert difference(hq.backend.preview(), hq.truth((640, 480))).max() < 4  # YUV 4:2:0 loses some colour


def test_a_session_locks_exposure_and_white_balance_so_a_change_of_light_no_longer_moves_them(hq):
    hq.open()
    locked = hq.backend.lock()
    assert set(locked) == {"ExposureTime", "AnalogueGain", "AwbEnable", "ColourGains"}
    hq.frames_later(3)
    assert hq.camera.exposure_mode == hq.camera.gain_mode == libcamera_model.ExposureTimeModeEnum.Manual
    before = hq.backend.still()
    hq.camera.light.level = 0.5  # a lamp of the stand fails
    hq.frames_later(10)
    assert round(hq.camera.exposure_us) == locked["ExposureTime"]
    assert np.mean(hq.backend.still()) < 0.6 * np.mean(before)  # locked: the page comes out darker


def test_the_end_of_a_session_hands_exposure_and_white_balance_back_to_the_camera(hq):
    hq.open()
    locked = hq.backend.lock()
    hq.backend.unlock()
    hq.camera.light.level = 0.5
    hq.frames_later(15)
    assert hq.camera.exposure_mode == hq.camera.gain_mode == libcamera_model.ExposureTimeModeEnum.Auto
    assert hq.camera.awb
    assert hq.camera.exposure_us * hq.camera.gain == pytest.approx(2 * locked["ExposureTime"], rel=0.05)
    # and the next session locks what the camera settled on under the new light
    assert hq.backend.lock()["ExposureTime"] * hq.camera.gain == pytest.approx(2 * locked["ExposureTime"], rel=0.05)


def test_camera_module_3_focuses_once_per_session_and_keeps_its_lens_there(module3):
    module3.open()
    module3.frames_later(15)
    blurred = module3.backend.still()  # the lens where it starts, at 1 dioptre: a page 45 cm away is soft
    locked = module3.backend.lock()
    assert locked["AfMode"] == libcamera_model.AfModeEnum.Manual
    assert locked["LensPosition"] == pytest.approx(module3.camera.in_focus, abs=0.05)
    sharp = module3.backend.still()
    truth = module3.truth(SIZE)
    assert difference(sharp, truth).max() < 2.5
    assert difference(blurred, truth).max() > 2 * difference(sharp, truth).max()
    module3.frames_later(10)
    assert module3.camera.af_mode == libcamera_model.AfModeEnum.Manual
    assert module3.camera.lens == pytest.approx(module3.camera.in_focus, abs=0.05)


def test_the_model_never_stands_in_where_a_real_libcamera_is_installed(tmp_path):
    (tmp_path / "libcamera").mkdir()
    (tmp_path / "libcamera" / "__init__.py").write_text("")  # as Raspberry Pi OS's python3-libcamera puts it
    code = "from vision import libcamera_model\nlibcamera_model.install()\n"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{Path.cwd()}"}
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert answer.returncode != 0 and "a real libcamera is installed here" in answer.stderr


def test_with_no_camera_connected_opening_says_what_to_check():
    libcamera_model.install()
    with pytest.raises(CameraError, match="camera 0 cannot be started: is the ribbon cable seated"):
        Picamera2Camera(SIZE).open()


def test_a_camera_without_memory_for_its_buffers_says_so_and_can_be_opened_once_there_is(hq):
    heap = hq.model.heap
    capacity, heap.capacity = heap.capacity, heap.used + (8 << 20)  # less than a 2 MP photo (6 MB) and its raw (5)
    try:
        with pytest.raises(CameraError, match=r"no room for 1632x1224 frame buffers in the camera memory \(CMA\)"):
            hq.backend.open()
    finally:
        heap.capacity = capacity
    hq.backend.open()  # the failed attempt released the camera
    assert hq.backend.still().shape == (SIZE[1], SIZE[0], 3)


def test_a_still_asked_for_at_once_is_a_photo_or_a_camera_error_never_picamera2s_pending_job(hq):
    hq.open()
    hq.backend.lock()
    for _ in range(3):
        try:
            photo = hq.backend.still(0)
        except CameraError as exc:
            assert "gave no frame for a photo" in str(exc)
        else:
            assert isinstance(photo, np.ndarray) and photo.shape == (SIZE[1], SIZE[0], 3)
    assert hq.backend.still().shape == (SIZE[1], SIZE[0], 3)  # nothing left pending in the way


def test_a_camera_whose_frames_stop_is_reported_within_the_wait_and_recovers_when_they_come_back(hq):
    hq.open()
    hq.backend.lock()
    hq.camera.frames_stop = True  # the ribbon cable works loose
    started = time.monotonic()
    with pytest.raises(CameraError, match="gave no frame for a photo within 1 s: is the ribbon cable seated"):
        hq.backend.still(1.0)
    assert time.monotonic() - started < 30  # bounded (the old backend waited for ever)
    with pytest.raises(CameraError, match="gave no frame for a preview"):
        hq.backend.preview()
    hq.camera.frames_stop = False
    assert hq.backend.still().shape == (SIZE[1], SIZE[0], 3)


def test_the_copy_stand_digitizes_a_page_through_picamera2(hq, tmp_path):
    """A dossier session on the Pi camera backend, as a gateway on a Pi runs it (an A6 page over 200 dpi)."""
    hq.backend = Picamera2Camera((2400, 1800))
    session = CopyStandSession(
        CopyStand(id="stand", gateway="gw", reader="r", pedal_pin=22, page_size="A6"),
        hq.backend,
        tmp_path,
        ManualClock(),
        event=lambda kind, **fields: None,
    )
    hq.open()
    session.handle("tag", "DA-2026-00001")
    assert session.view.camera["ExposureTime"].isdigit()
    session.handle("shoot")
    view = session.view
    assert view.pages == 1 and view.last is not None and view.last.ok, view
    assert (tmp_path / "DA-2026-00001" / "manifest.json").exists()
    session.handle("done")
    hq.frames_later(3)
    assert hq.camera.exposure_mode == libcamera_model.ExposureTimeModeEnum.Auto
