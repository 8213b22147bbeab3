"""A page laid upside down or sideways comes out upright, its corners named from its own top-left.

Tesseract's orientation detection runs for real (tesserocr, with Debian's model); the pages are the simulated
stand's, whose ground truth says which corner is the printed page's top-left.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from vision import orientation, standsim
from vision.pipeline import Hints, correct, upright

# The photo turned clockwise by each quarter, and where a point (x, y) of a W x H photo lands.
TURNS = {
    90: (cv2.ROTATE_90_CLOCKWISE, lambda x, y, w, h: (h - 1 - y, x)),
    180: (cv2.ROTATE_180, lambda x, y, w, h: (w - 1 - x, h - 1 - y)),
    270: (cv2.ROTATE_90_COUNTERCLOCKWISE, lambda x, y, w, h: (y, w - 1 - x)),
}


@pytest.fixture(scope="module")
def shot() -> standsim.Shot:
    """A good 12 MP shot of an A4 page: the resolution a page is turned at on the stand."""
    return standsim.simulate(7, size=standsim.SIZE_12MP)


@pytest.fixture(scope="module")
def as_laid(shot) -> np.ndarray:
    result = upright(correct(shot.image, Hints()))
    assert result.turned_deg == 0 and result.orientation.turn_deg == 0, "an upright page is left as it is"
    return result.master


def corner_error(found: list, truth: np.ndarray) -> float:
    return float(np.abs(np.asarray(found) - truth).max())


@pytest.mark.parametrize("turned", [90, 180, 270])
def test_a_page_laid_turned_comes_out_upright_with_its_corners_from_its_own_top_left(turned, shot, as_laid):
    code, moved = TURNS[turned]
    h, w = shot.image.shape[:2]
    photo = cv2.rotate(shot.image, code)  # the page lies turned under the camera
    truth = np.array([moved(x, y, w, h) for x, y in shot.truth["page_quad"]])
    result = upright(correct(photo, Hints()))
    assert result.turned_deg == (360 - turned) % 360 and result.orientation.confidence >= orientation.MIN_CONFIDENCE
    assert result.master.shape == as_laid.shape and result.page_size_mm == (210.0, 297.0)
    assert corner_error(result.page_quad, truth) < 6  # px of a 12 MP photo: the same corners, named alike
    # The same page as the one laid upright, to within resampling (the two photos sample it differently).
    small = (as_laid.shape[1] // 8, as_laid.shape[0] // 8)
    a, b = (cv2.resize(m, small, interpolation=cv2.INTER_AREA).astype(np.int16) for m in (result.master, as_laid))
    assert np.abs(a - b).mean() < 6


def test_the_simulated_stand_lays_a_page_upside_down_and_says_where_its_top_left_went():
    laid = standsim.simulate(3, faults=("upside_down",), size=standsim.SIZE_12MP)
    result = upright(correct(laid.image, Hints()))
    assert result.turned_deg == 180 and corner_error(result.page_quad, np.array(laid.truth["page_quad"])) < 6


@pytest.mark.parametrize("seed", range(4))
def test_each_quarter_turn_of_a_flat_page_is_told_apart(seed):
    """Chinese and Latin print, a ruled form, handwriting, a seal and a photo, at 150 dpi."""
    page = cv2.cvtColor(standsim.render_page(np.random.default_rng(seed), 1240, 1754), cv2.COLOR_BGR2GRAY)
    found = {0: orientation.detect(page, 150).turn_deg}
    for turned, (code, _) in TURNS.items():
        found[turned] = orientation.detect(cv2.rotate(page, code), 150).turn_deg
    assert found == {0: 0, 90: 270, 180: 180, 270: 90}


def test_a_page_without_text_is_kept_as_it_lies():
    blank = np.full((1754, 1240), 235, np.uint8)
    assert orientation.detect(blank, 150) is None


def test_only_a_grey_page_is_taken():
    with pytest.raises(ValueError, match="expected an 8-bit grey page"):
        orientation.detect(np.zeros((100, 100, 3), np.uint8), 150)


def test_without_tesseract_pages_are_kept_as_they_lie_and_the_log_says_why_once():
    """32-bit Raspberry Pi OS has no tesserocr wheel."""
    script = (
        "import logging, sys\n"
        "sys.modules['tesserocr'] = None\n"  # as if it were not installed
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "from vision import standsim\n"
        "from vision.pipeline import Hints, correct, upright\n"
        "shot = standsim.simulate(3, faults=('upside_down',))\n"
        "for _ in range(2):\n"
        "    result = upright(correct(shot.image, Hints()))\n"
        "    print(result.turned_deg, result.orientation, result.master is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["0 None True", "0 None True"]
    assert done.stderr.count("pages are kept as they lie, not turned upright: tesserocr is not installed") == 1


def test_without_the_model_the_log_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    monkeypatch.setattr(orientation, "TESSDATA", ())
    with pytest.raises(orientation.Unavailable, match="install Debian's tesseract-ocr-osd"):
        orientation._tessdata()


def test_a_damaged_model_is_named(monkeypatch, tmp_path):
    (tmp_path / "osd.traineddata").write_bytes(b"not a model")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    raised = []

    def first_look_on_a_new_thread() -> None:  # each thread loads its own Tesseract
        try:
            orientation.detect(np.full((200, 200), 235, np.uint8), 150)
        except orientation.Unavailable as exc:
            raised.append(str(exc))

    worker = threading.Thread(target=first_look_on_a_new_thread)
    worker.start()
    worker.join(60)
    assert raised and f"Tesseract cannot load {tmp_path / 'osd.traineddata'}" in raised[0]
