"""Which way up a page lies: a keeper lays a page upside down or sideways now and then, and DA/T 31-2017 asks
for every image to be turned back upright.

Tesseract's orientation and script detection (OSD) does it: it classifies some thirty of the page's
characters (more where unsure) in each of the four orientations, for Chinese as for Latin script, so no layout
rule of our own (a header on top, text flush left) has to hold for forms, tables and handwriting. It runs in
the process through tesserocr, whose wheels carry Tesseract itself; the model (`osd.traineddata`) is Debian's
`tesseract-ocr-osd`.

Where either is missing (PyPI has no tesserocr wheel for 32-bit Raspberry Pi OS), pages are kept as they lie
and the log says once why: turning a page needs the detector, everything else goes on without it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TESSDATA = (
    Path("/usr/share/tesseract-ocr/5/tessdata"),  # Debian 12 and Raspberry Pi OS (tesseract-ocr-osd)
    Path("/usr/share/tesseract-ocr/4.00/tessdata"),
    Path("/usr/share/tessdata"),
)
"""Where the model is looked for, after the folder TESSDATA_PREFIX names."""
MIN_CONFIDENCE = 2.0
"""Tesseract's confidence in the orientation it found, below which a page is kept as it lies. On the simulated
stand's pages the right orientation came out at 2.13 and more at the first look, and none wrong
(bench/orientation.py)."""
FIRST_LOOK, SECOND_LOOK = 30, 200
"""Characters Tesseract classifies at least (`min_characters_to_try`): 30 first, where that leaves it unsure a
second look at up to 200. Its own default, 50, took 350 ms a page (CPU, mean) on 48 simulated pages; 30 took
260 with the two second looks it needed, and 20 took 320 (twelve second looks); all 48 came out right and sure
each way. One page, seed 7 laid a quarter anticlockwise, came out right but unsure (0.8) at 50, sure (4.3) at 100."""


@dataclass(frozen=True)
class Orientation:
    """How far the page must be turned, clockwise in degrees (0, 90, 180, 270), to stand upright."""

    turn_deg: int
    confidence: float
    script: str
    second_look: bool = False
    """True when the first look left Tesseract unsure and it looked at more of the page's characters."""


class Unavailable(RuntimeError):
    """No detector here: tesserocr or the OSD model is missing; the message says which and what to install."""


def _tessdata() -> Path:
    named = os.environ.get("TESSDATA_PREFIX")
    for folder in ((Path(named),) if named else ()) + TESSDATA:
        if (folder / "osd.traineddata").is_file():
            return folder
    raise Unavailable("Tesseract's orientation model is missing: install Debian's tesseract-ocr-osd")


_local = threading.local()  # a Tesseract instance is not for two threads at once: one per thread, kept


def _api():
    api = getattr(_local, "api", None)
    if api is None:
        try:
            import tesserocr
        except ImportError as exc:
            raise Unavailable(f"tesserocr is not installed ({exc})") from exc
        folder = _tessdata()
        try:
            api = tesserocr.PyTessBaseAPI(
                path=f"{folder}/",  # tesserocr asks for the trailing slash
                lang="osd",
                psm=tesserocr.PSM.OSD_ONLY,
                variables={"min_characters_to_try": str(FIRST_LOOK)},
            )
        except RuntimeError as exc:  # a damaged or foreign model file
            raise Unavailable(f"Tesseract cannot load {folder / 'osd.traineddata'} ({exc})") from exc
        _local.api = api
    return api


def detect(gray: np.ndarray, dpi: float) -> Orientation | None:
    """The turn that makes the grey page `gray` (at `dpi`) upright; None where it has too little text to tell.

    Raises Unavailable where there is no detector.
    """
    from PIL import Image

    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit grey page, got {gray.dtype} {gray.shape}")
    api = _api()
    api.SetImage(Image.fromarray(gray))
    api.SetSourceResolution(round(dpi))
    found = api.DetectOrientationScript()
    second = bool(found) and found["orient_conf"] < MIN_CONFIDENCE
    if second:
        api.SetVariable("min_characters_to_try", str(SECOND_LOOK))
        try:
            found = api.DetectOrientationScript()
        finally:
            api.SetVariable("min_characters_to_try", str(FIRST_LOOK))
    if not found:
        return None
    # Tesseract reports how far the page lies turned clockwise, so it is turned back as far counter-clockwise.
    turn = (360 - int(found["orient_deg"])) % 360
    return Orientation(turn, round(float(found["orient_conf"]), 2), str(found["script_name"]), second)


_warned = threading.Event()


def detect_or_none(gray: np.ndarray, dpi: float) -> Orientation | None:
    """`detect`, where a missing detector gives None (pages kept as they lie) and one warning in the log."""
    try:
        return detect(gray, dpi)
    except Unavailable as exc:
        if not _warned.is_set():
            _warned.set()
            log.warning("pages are kept as they lie, not turned upright: %s", exc)
        return None
