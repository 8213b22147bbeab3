"""`correct(image, hints) -> Correction`: a stand photo in, a straight, cropped, evenly lit page out.

Pure: NumPy arrays in and out, no files, no clock, so the gateway, the CLI, the tests and the benchmark all
run the very same code. Order matters for cost: the page is found and the skew measured on small images;
the full-size photo is resampled exactly once, straight to the target resolution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np

from vision import cleanup, deskew, geometry, orientation, quality
from vision.orientation import Orientation
from vision.page import WORK_WIDTH as PAGE_FIND_WIDTH
from vision.page import find_page

WORK_DPI = 120.0
# The work copy is warped from the photo halved when the half still holds this much on the page (a 12 MP
# photo of A4 holds about 200-215 dpi, so its half about 100; a 2 MP photo's 80 dpi is used whole).
HALF_MIN_DPI = 90.0
MAX_SKEW_DEG = 4.0  # deskew.measure searches 3 degrees either side; its finer passes may add half a degree


@dataclass(frozen=True)
class Hints:
    """What the stand knows: the page's size (a name like "A4", or (w, h) mm) or its calibration in px/mm."""

    page_size: str | tuple[float, float] | None = "A4"
    px_per_mm: float | None = None
    dpi: float = 300.0
    margin_mm: float = 3.0
    flatten: bool = True
    despeckle: bool = True
    bitonal: bool = False
    previous_hash: np.ndarray | None = None
    limits: quality.Limits = field(default_factory=quality.Limits)

    def __post_init__(self) -> None:
        if not 50 <= self.dpi <= 1200:
            raise ValueError(f"dpi {self.dpi} outside 50..1200")
        if not 0 <= self.margin_mm <= 50:
            raise ValueError(f"margin {self.margin_mm} mm outside 0..50")
        if self.px_per_mm is not None and not self.px_per_mm > 0:
            raise ValueError("px_per_mm must be positive")


@dataclass
class Correction:
    """The corrected page (None when no page was found) and everything the keeper and the manifest need."""

    master: np.ndarray | None
    page_quad: list[list[float]] | None
    skew_deg: float
    dpi: float
    native_dpi: float
    page_size_mm: tuple[float, float] | None
    qc: dict
    page_hash: np.ndarray | None
    specks_removed: int = 0
    bitonal: np.ndarray | None = None
    check_gray: np.ndarray | None = field(default=None, repr=False)
    """The cleaned page in grey at about 150 dpi (`check_dpi`), as the checks saw it; `upright` reads it."""
    check_dpi: float = 0.0
    orientation: Orientation | None = None
    """What `upright` found (None: not asked, no detector, or too little text to tell)."""
    turned_deg: int = 0
    """How far `upright` turned the master clockwise: the orientation found, when it was sure enough."""

    def described(self) -> dict:
        """What the manifest records of the correction beside the checks (the CLI and the copy stand alike)."""
        found = self.orientation
        return {
            "page_quad": self.page_quad,
            "skew_deg": self.skew_deg,
            "native_dpi": self.native_dpi,
            "turned_deg": self.turned_deg,
            "orientation": None if found is None else asdict(found),
            "specks_removed": self.specks_removed,
        }


def validate(image: object) -> np.ndarray:
    """An 8-bit BGR image, or a clear ValueError: images come from cameras and folders we do not control."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected a NumPy image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected 8-bit pixels, got {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if min(image.shape[:2]) < 64:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is too small for a page photo")
    return image


def _summary(checks: dict) -> dict:
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def correct(image: np.ndarray, hints: Hints | None = None) -> Correction:
    """Find, flatten, deskew, crop and clean the page; run every quality check."""
    hints = hints or Hints()
    image = validate(image)
    lim = hints.limits
    h, w = image.shape[:2]
    half = geometry.halve(image) if w >= 2 * PAGE_FIND_WIDTH else None  # for the page finder's small copy
    found = find_page(image, half)
    if found.quad is None:
        # Say why when the light washed the page out: the exposure of the whole frame.
        small = cv2.resize(image, (320, max(1, round(h * 320 / w))), interpolation=cv2.INTER_NEAREST)
        checks = {
            "no_page": quality.no_page(False, found.area_fraction, lim.no_page),
            "exposure": quality.exposure(small, lim.exposure),
        }
        return Correction(None, None, 0.0, hints.dpi, 0.0, None, _summary(checks), None)
    quad = found.quad
    size_mm = geometry.page_size_mm(hints.page_size, quad, hints.px_per_mm)
    native = geometry.native_dpi(quad, size_mm)

    # The flat page at a working resolution: skew and most checks are measured here.
    # Both warps read a 4-channel (BGRA) copy (see geometry.warp) of the part of the photo they need only.
    hw, work_size = geometry.page_homography(quad, size_mm, WORK_DPI)
    bgra, box = None, None
    if half is not None and native / 2 >= HALF_MIN_DPI:
        # From the photo halved (made for the page finder already): a warp reading every other pixel of
        # the photo strides through twice the memory for the same page, and the half is area-averaged,
        # not aliased. The master's copy is then made after the skew is known: of the part it reads only.
        hh = hw @ geometry.FROM_HALVED
        hbox = geometry.source_box(hh, work_size, half.shape)
        part = cv2.cvtColor(half[hbox[1] : hbox[3], hbox[0] : hbox[2]], cv2.COLOR_BGR2BGRA)
        work = geometry.warp(part, geometry.crop_homography(hh, hbox), work_size)
        del part
    else:
        # One copy for both warps: the page with room for the margin and the deskew rotation.
        h0, size = geometry.page_homography(quad, size_mm, hints.dpi, hints.margin_mm)
        room = MAX_SKEW_DEG * math.pi / 180 * max(h, w) / 2  # how far a deskew rotation moves the page's corners
        box = geometry.source_box(h0, size, image.shape, pad=room)
        bgra = cv2.cvtColor(image[box[1] : box[3], box[0] : box[2]], cv2.COLOR_BGR2BGRA)
        work = geometry.warp(bgra, geometry.crop_homography(hw, box), work_size)
    del half
    work_gray = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    skew, _ = deskew.measure(work_gray)

    hm, size = geometry.page_homography(quad, size_mm, hints.dpi, hints.margin_mm, skew)
    needed = geometry.source_box(hm, size, image.shape)
    # The master's copy: made here after a work copy from the half, or made again when a skew beyond
    # MAX_SKEW_DEG needs more of the photo than the copy made for both warps holds.
    if bgra is None or not geometry.contains(box, needed):
        box = needed
        bgra = cv2.cvtColor(image[box[1] : box[3], box[0] : box[2]], cv2.COLOR_BGR2BGRA)
    master = geometry.warp(bgra, geometry.crop_homography(hm, box), size)
    del bgra
    if hints.flatten:  # the light fitted on the work copy (master pixels to work pixels: hm's inverse, then hw)
        light = cleanup.background_from(work, hw @ np.linalg.inv(hm), size)
        master = cleanup.flatten(master, light=light, inplace=True)
    gray = cv2.cvtColor(master, cv2.COLOR_BGR2GRAY)  # one grey of the master for the clean-up and the checks
    specks = 0
    if hints.despeckle:  # the master is ours alone: painted in place, and its grey kept in step
        master, specks = cleanup.despeckle(master, hints.dpi, inplace=True, gray=gray)

    # Reduced by a whole factor only (see deskew.reduction): 1276 px wide for a 300 dpi A4 page.
    k = deskew.reduction(size[0])
    check_gray = cv2.resize(gray, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA) if k > 1 else gray
    del gray
    digest = quality.page_hash(check_gray)
    checks = {
        "no_page": quality.no_page(True, found.area_fraction, lim.no_page),
        "cut_off": quality.cut_off(found.border_contact, lim.cut_off),
        "blur": quality.blur(work_gray, lim.blur),
        "exposure": quality.exposure(work, lim.exposure),
        "hand": quality.hand(work, WORK_DPI, lim.hand),
        "residual_skew": quality.residual_skew(check_gray, lim.residual_skew),
        "resolution_dpi": quality.resolution(native, lim.resolution_dpi),
        "duplicate": quality.duplicate(digest, hints.previous_hash, lim.duplicate),
    }
    return Correction(
        master=master,
        page_quad=[[round(float(x), 2), round(float(y), 2)] for x, y in quad],
        skew_deg=round(float(skew), 3),
        dpi=hints.dpi,
        native_dpi=round(native, 1),
        page_size_mm=size_mm,
        qc=_summary(checks),
        page_hash=digest,
        specks_removed=specks,
        bitonal=cleanup.bitonal(master) if hints.bitonal else None,
        check_gray=check_gray,
        check_dpi=hints.dpi / k,
    )


QUARTER_TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
"""cv2.rotate's code for each clockwise quarter turn, in degrees."""


def upright(result: Correction, min_confidence: float = orientation.MIN_CONFIDENCE) -> Correction:
    """The corrected page turned upright when it was laid upside down or sideways (DA/T 31-2017 asks for it).

    A separate step from `correct`, and the dearer of the two (Tesseract's detection, about 0.3 s a page here:
    bench/orientation.py): the copy stand shows the keeper the verdict first and turns the page before its files
    are written. Tesseract reads the checks' grey copy (about 150 dpi: at 100-120 dpi it was less sure and no
    faster). `page_quad` then starts from the corner that is the page's top-left; the page hash stays the page's
    as it lay, which is what the next shot is compared with. Pages with too little text to tell, and any page
    where the detector is missing, are kept as they lie.
    """
    if result.master is None or result.check_gray is None:
        return result
    found = orientation.detect_or_none(result.check_gray, result.check_dpi)
    if found is None or found.turn_deg == 0 or found.confidence < min_confidence:
        return replace(result, orientation=found)
    code = QUARTER_TURNS[found.turn_deg]
    quarter = found.turn_deg // 90
    quad = result.page_quad
    size = result.page_size_mm
    return replace(
        result,
        master=cv2.rotate(result.master, code),
        bitonal=None if result.bitonal is None else cv2.rotate(result.bitonal, code),
        check_gray=cv2.rotate(result.check_gray, code),
        # Turned clockwise by a quarter, the page's top-left is the corner that lay a quarter anticlockwise of it.
        page_quad=quad[-quarter:] + quad[:-quarter],
        page_size_mm=size if quarter == 2 or size is None else (size[1], size[0]),
        orientation=found,
        turned_deg=found.turn_deg,
    )
