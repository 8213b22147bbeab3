"""Cameras behind one interface, and the auto trigger: real OpenCV capture, a real folder, the simulated stand.

The Pi camera backend (picamera2) has its own file, tests/test_camera_picamera2.py, over a model of libcamera.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.config import ConfigError, CopyStand, from_dict, load
from vision.autotrigger import AutoTrigger
from vision.camera import CameraError, open_camera
from vision.camera_folder import GIVE_UP_S, WHOLE_AFTER_S, FolderCamera
from vision.camera_opencv import OpenCVCamera
from vision.camera_sim import SimulatedCamera
from vision.standsim import StandScene, simulate

# -- the auto trigger -----------------------------------------------------------------------


def feed(trigger: AutoTrigger, camera: SimulatedCamera, t: float, seconds: float) -> tuple[float, list[str]]:
    """Previews every 0.25 s for `seconds`; what the trigger said each time ("shoot" when it fires)."""
    said = []
    for _ in range(int(seconds / 0.25)):
        verdict = trigger.feed(camera.preview(), t)
        said.append("shoot" if verdict.shoot else verdict.waiting_for)
        t += 0.25
    return t, said


def test_the_auto_trigger_shoots_a_page_once_it_lies_still_and_only_once():
    scene = StandScene()
    camera, trigger = SimulatedCamera(scene, (4056, 3040)), AutoTrigger(still_s=0.8)
    scene.lay(1)
    t, said = feed(trigger, camera, 0.0, 3.0)
    assert said.count("shoot") == 1 and said.index("shoot") >= 3  # not before 0.8 s of stillness
    assert said[-1] == "motion"  # the same page lying on is not shot again
    scene.reach_in()
    scene.lay(2)
    _, said = feed(trigger, camera, t, 3.0)
    assert said.count("shoot") == 1


def test_the_auto_trigger_waits_while_a_hand_is_over_the_page_or_no_page_lies_there():
    scene = StandScene()
    camera, trigger = SimulatedCamera(scene, (4056, 3040)), AutoTrigger(still_s=0.5)
    t, said = feed(trigger, camera, 0.0, 2.0)
    assert "shoot" not in said and said[-1] == "page"
    scene.lay(1)
    scene.reach_in()
    _, said = feed(trigger, camera, t, 2.0)
    assert "shoot" not in said and said[-1] in ("hand", "page")


def test_a_retake_rearms_the_trigger_for_the_page_lying_there():
    scene = StandScene()
    camera, trigger = SimulatedCamera(scene, (4056, 3040)), AutoTrigger(still_s=0.5)
    scene.lay(1)
    t, said = feed(trigger, camera, 0.0, 2.0)
    trigger.rearm()
    _, said = feed(trigger, camera, t, 1.0)
    assert said.count("shoot") == 1


# -- a tethered camera writing into a folder ------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def sleep(self, s: float) -> None:
        self.t += s

    def monotonic(self) -> float:
        return self.t


def photo(path: Path, seed: int = 1) -> bytes:
    data = simulate(seed, size=(800, 600)).jpeg
    path.write_bytes(data)
    return data


def folder_camera(tmp_path: Path) -> tuple[FolderCamera, Clock]:
    clock = Clock()
    camera = FolderCamera(tmp_path, sleep=clock.sleep, monotonic=clock.monotonic)
    camera.open()
    return camera, clock


def test_each_whole_new_photo_in_the_folder_is_one_shot_filed_under_its_dossier(tmp_path):
    camera, _ = folder_camera(tmp_path)
    camera.dossier = "DA-1"
    photo(tmp_path / "IMG_0001.JPG")
    image = camera.still(timeout_s=5)
    assert image is not None and image.shape == (600, 800, 3)
    assert (tmp_path / "done" / "DA-1" / "IMG_0001.JPG").exists() and not (tmp_path / "IMG_0001.JPG").exists()
    assert camera.still(timeout_s=2) is None  # nothing new


def test_a_photo_still_being_written_is_not_taken_until_it_is_whole(tmp_path):
    camera, _ = folder_camera(tmp_path)
    camera.dossier = "DA-1"
    data = simulate(1, size=(800, 600)).jpeg
    (tmp_path / "IMG_0002.JPG").write_bytes(data[: len(data) // 2])
    assert camera.still(timeout_s=WHOLE_AFTER_S * 4) is None  # half a JPEG: waits for the rest
    (tmp_path / "IMG_0002.JPG").write_bytes(data)
    assert camera.still(timeout_s=5) is not None


def test_a_corrupt_photo_is_refused_with_its_name_and_set_aside(tmp_path):
    camera, _ = folder_camera(tmp_path)
    camera.dossier = "DA-1"
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert camera.still(timeout_s=GIVE_UP_S + 5) is None
    assert (tmp_path / "refused" / "broken.jpg").exists()
    assert camera.refused and camera.refused[0].startswith("broken.jpg: ")


def test_photos_arriving_outside_a_session_are_kept_apart_not_given_to_the_next_dossier(tmp_path):
    camera, _ = folder_camera(tmp_path)
    photo(tmp_path / "stray.jpg")
    assert camera.still(timeout_s=2) is None
    assert (tmp_path / "unassigned" / "stray.jpg").exists()
    camera.dossier = "DA-2"
    photo(tmp_path / "stray.jpg", seed=2)  # the same name again: the first original is not overwritten
    camera.dossier = None
    camera.still(timeout_s=2)
    assert sorted(p.name for p in (tmp_path / "unassigned").iterdir()) == ["stray.1.jpg", "stray.jpg"]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        FolderCamera(tmp_path / "nowhere").open()


# -- any camera OpenCV opens ------------------------------------------------------------------


def test_an_opencv_camera_delivers_frames_and_says_what_it_could_lock(tmp_path):
    video = tmp_path / "stand.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (640, 480))
    for seed in range(8):
        writer.write(simulate(seed, size=(640, 480)).image)
    writer.release()
    camera = OpenCVCamera(str(video), (640, 480))
    camera.open()
    locked = camera.lock()
    assert set(locked) == {"exposure", "white_balance", "focus"}  # a file has no controls: said, not hidden
    preview = camera.preview()
    assert preview.shape[1] == 320 and preview.dtype == np.uint8
    assert camera.still().shape == (480, 640, 3)
    camera.close()


def test_an_opencv_camera_that_cannot_be_opened_is_named(tmp_path):
    with pytest.raises(CameraError, match="cannot be opened"):
        OpenCVCamera(str(tmp_path / "no-camera.avi"), (640, 480)).open()


# -- config -------------------------------------------------------------------------------------


def test_the_config_names_the_camera_each_stand_uses(tmp_path):
    stand = CopyStand(id="s", gateway="g", reader="r", camera="folder", trigger="camera", source=str(tmp_path))
    assert isinstance(open_camera(stand), FolderCamera)
    stand = CopyStand(id="s", gateway="g", reader="r", pedal_pin=22, resolution="2mp")
    camera = open_camera(stand)
    assert isinstance(camera, SimulatedCamera) and camera.size == (1632, 1224)


def test_a_stand_shoots_at_its_cameras_full_size_unless_told_otherwise():
    """The Pi cameras ask the sensor its size when opened (tests/test_camera_picamera2.py), a USB camera is
    asked for a size beyond any it has and answers its largest, and the simulated camera is an HQ camera."""
    stand = CopyStand(id="s", gateway="g", reader="r", pedal_pin=22)
    assert stand.resolution == "full"
    assert open_camera(stand).size == (4056, 3040)
    assert open_camera(stand.model_copy(update={"camera": "picamera2", "source": "0"})).size is None
    assert open_camera(stand.model_copy(update={"camera": "opencv", "source": "0"})).size == (10_000, 10_000)
    assert open_camera(stand.model_copy(update={"camera": "opencv", "resolution": "5mp"})).size == (2592, 1944)


DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trigger": "pedal", "pedal_pin": None}, "copy_stands[0]: Value error, trigger = 'pedal' needs pedal_pin"),
        ({"camera": "folder"}, "trigger = 'camera' goes with camera = 'folder'"),
        ({"reader": "east-shelf"}, "copy_stands[0].reader: 'east-shelf' is not an RFID reader of gateway 'gw-west'"),
        ({"page_size": "A9"}, "copy_stands[0].page_size: must be one of A3, A4"),
        ({"pedal_pin": 17}, "GPIO17 on gateway 'gw-west' is already used by copy_stands[stand].pedal_pin"),
        ({"dpi": 150.0}, "copy_stands[0].dpi: Input should be greater than or equal to 200"),
        (
            {"camera": "picamera2", "source": "front"},
            "copy stand 'stand': camera = 'picamera2' takes source as the camera's number (0, 1, ... as "
            "`rpicam-hello --list-cameras` shows them), not 'front'",
        ),
        ({"camera": "picamera2", "source": "/dev/video0"}, "copy stand 'stand': camera = 'picamera2' takes source"),
        ({"camera": "opencv", "source": "video0"}, "copy stand 'stand': camera = 'opencv' takes source as a device"),
        ({"camera": "opencv", "source": "-1"}, "(/dev/video0) or a stream URL (rtsp://...), not '-1'"),
    ],
)
def test_a_bad_copy_stand_config_is_refused_naming_the_key(change, message):
    import tomllib

    raw = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    stand = {**raw["copy_stands"][0], **change}
    raw["copy_stands"][0] = {k: v for k, v in stand.items() if v is not None}
    with pytest.raises(ConfigError) as refused:
        from_dict(raw, DEMO)
    assert message.split(": Value error, ")[-1] in str(refused.value)


@pytest.mark.parametrize(
    ("camera", "source"),
    [("picamera2", ""), ("picamera2", "1"), ("opencv", "0"), ("opencv", "/dev/video0"), ("opencv", "rtsp://cam/1")],
)
def test_a_camera_source_the_backend_can_open_is_taken(camera, source):
    stand = CopyStand(id="s", gateway="g", reader="r", pedal_pin=22, camera=camera, source=source)
    assert stand.source == source


def test_the_demo_site_has_a_copy_stand_on_the_west_gateway():
    site = load(DEMO)
    (stand,) = site.copy_stands_of("gw-west")
    assert stand.reader == "stand" and stand.camera == "sim" and stand.page_size_hint == "16K"
    assert site.copy_stands_of("gw-east") == []


def test_a_photo_that_is_being_replaced_atomically_is_never_read_half_written(tmp_path):
    """Cameras that write to a temporary name and rename (gphoto2 does) are taken at once."""
    camera, _ = folder_camera(tmp_path)
    camera.dossier = "DA-1"
    temporary = tmp_path / ".IMG_0003.JPG.part"
    photo(temporary)
    assert camera.still(timeout_s=1) is None  # not an image name: ignored
    os.replace(temporary, tmp_path / "IMG_0003.JPG")
    started = time.monotonic()
    assert camera.still(timeout_s=5) is not None
    assert time.monotonic() - started < 5
