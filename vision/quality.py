"""Quality checks a keeper can trust: each says its value, its limit, whether it passed and why not.

All checks are cheap: they run on the flat page at a low working resolution (about 120 dpi) or on the
corners found, never on the full-size master.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision import deskew, geometry


@dataclass(frozen=True)
class Limits:
    """Where each check draws the line; values chosen on the simulated stand (bench/vision.py measures them)."""

    # Minimum variance of the Laplacian on the 120 dpi page. On the simulated stand blurred shots score up to 55
    # (2 MP) and 59 (12 MP), sharp ones from 393 and 977: 150 sits a factor of 2.5 from either. It was 60, and
    # a blurred 12 MP shot of the demo's keeper passed at 61.9.
    blur: float = 150.0
    exposure: float = 0.02  # maximum share of clipped pixels on the page
    cut_off: float = 0.01  # maximum share of the page's outline on the frame's edge
    no_page: float = 0.08  # minimum share of the frame the page covers
    residual_skew: float = 0.3  # maximum |degrees| of text skew left after correction
    resolution_dpi: float = 200.0  # minimum dpi the photo really holds on the page (DA/T 31-2017: 200)
    duplicate: float = 120.0  # minimum Hamming distance (of 1023 bits) to the previous page's hash
    hand: float = 0.002  # maximum share of the page covered by a skin-coloured blob


def check(ok: bool, value: float, limit: float, reason: str) -> dict:
    return {"ok": bool(ok), "value": round(float(value), 4), "limit": float(limit), "reason": "" if ok else reason}


def blur(gray: np.ndarray, limit: float) -> dict:
    """Variance of the Laplacian (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy", 2000).

    Measured where there is detail only (pixels near edges), so a page with little text is not called blurred
    for being mostly blank.
    """
    # In 16-bit integers (a 3x3 Laplacian of 8-bit pixels fits) and OpenCV's masked statistics, with no copy
    # of the detail's pixels: 3.5 -> 2.1 ms on the 120 dpi page, the same value.
    lap = cv2.Laplacian(cv2.GaussianBlur(gray, (3, 3), 0), cv2.CV_16S)
    detail = cv2.dilate(cv2.bitwise_not(cv2.inRange(lap, -8, 8)), np.ones((5, 5), np.uint8))  # |lap| > 8, grown
    value = float(cv2.meanStdDev(lap, mask=detail)[1][0, 0]) ** 2 if cv2.countNonZero(detail) > 200 else 0.0
    return check(value >= limit, value, limit, "blurred: hold the camera still and check focus")


def exposure(page: np.ndarray, limit: float) -> dict:
    """Share of page pixels clipped white (any channel >= 250) or black (all <= 5): detail lost for good."""
    brightest = cv2.max(cv2.max(page[..., 0], page[..., 1]), page[..., 2])  # OpenCV: 30x NumPy's max(axis=2)
    high = cv2.countNonZero(cv2.compare(brightest, 250, cv2.CMP_GE)) / brightest.size
    low = cv2.countNonZero(cv2.compare(brightest, 5, cv2.CMP_LE)) / brightest.size
    value = float(max(high, low))
    reason = "over-exposed: highlights clipped" if high >= low else "under-exposed: shadows clipped"
    return check(value <= limit, value, limit, reason)


def cut_off(border_contact: float, limit: float) -> dict:
    """Share of the page's outline that lies on the frame's edge: a whole page is surrounded by stand."""
    return check(border_contact <= limit, border_contact, limit, "page cut off by the frame: centre it on the stand")


def no_page(found: bool, area_fraction: float, limit: float) -> dict:
    ok = found and area_fraction >= limit
    return check(ok, area_fraction, limit, "no page found on the stand")


def residual_skew(gray: np.ndarray, limit: float) -> dict:
    """Text skew measured again on the corrected page. A check against a 0.3 degree limit needs less
    precision than the correction itself: a third of the ink points the correction's measurement may use."""
    value, _ = deskew.measure(gray, max_points=50_000)
    return check(abs(value) <= limit, abs(value), limit, "text still skewed after correction")


def resolution(dpi: float, limit: float) -> dict:
    return check(dpi >= limit, dpi, limit, "resolution too low: move the camera closer or use a larger sensor")


HASH_SIDE, HASH_LOW = 128, 32
HASH_BITS = HASH_LOW * HASH_LOW - 1
"""A page's hash: the signs of its 32 x 32 lowest DCT coefficients but DC, of the page shrunk to 128 x 128."""


def page_hash(gray: np.ndarray) -> np.ndarray:
    """Perceptual hash: signs of the low DCT coefficients (but DC) of the page, against their median (Zauner 2010).

    Taken from the flattened, deskewed page: uneven light would otherwise dominate the low frequencies.
    32 x 32 coefficients of a 128-pixel page, not the usual 16 of 64: pages of one form share their layout, which
    is all the coarser hash sees, and two such pages came within its limit (bench/page_hash.py: 16 bits of 255
    apart, where the same page shot again was up to 10). The finer hash keeps them well apart (185+ of 1023 bits,
    the same page again within 60).
    """
    h, w = gray.shape
    inner = gray[h // 20 : h - h // 20, w // 20 : w - w // 20]  # the page, not the stand in its margin
    small = geometry.shrink(inner, (HASH_SIDE, HASH_SIDE)).astype(np.float32)
    coeffs = cv2.dct(small)[:HASH_LOW, :HASH_LOW].ravel()[1:]
    return coeffs > np.median(coeffs)


def hash_hex(digest: np.ndarray) -> str:
    """A page hash as the manifest keeps it."""
    return np.packbits(digest).tobytes().hex()


def hash_from_hex(text: str | None) -> np.ndarray | None:
    """A page hash back from the manifest; None for none, or for one of another size (an older version's)."""
    if not text:
        return None
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), np.uint8)).astype(bool)
    return bits[:HASH_BITS] if len(bits) == (HASH_BITS + 7) // 8 * 8 else None


def duplicate(current: np.ndarray, previous: np.ndarray | None, limit: float) -> dict:
    """Hamming distance to the previous page's hash: too close means the same page was shot twice."""
    if previous is None:
        return check(True, 255, limit, "")
    value = float(np.count_nonzero(np.asarray(previous, bool) != current))
    return check(value >= limit, value, limit, "same page as the previous shot: turn the page")


def hand(page: np.ndarray, dpi: float, limit: float) -> dict:
    """Share of the page covered by a skin-coloured blob at least 3 mm wide (a finger, a hand).

    Skin in YCrCb (Chai and Ngan, "Face segmentation using skin-color map", 1999): Cr 135..175, Cb 80..112;
    Cb stops at 112 because a blurred red seal turns pink (Cb near 118);
    the opening drops thin red-ish lines such as a seal's ring and the anti-aliased edges of red print.
    """
    ycc = cv2.cvtColor(page, cv2.COLOR_BGR2YCrCb)
    mask = cv2.inRange(ycc, (60, 135, 80), (235, 175, 112))
    k = max(3, round(3 / 25.4 * dpi)) | 1
    # Opened within the skin pixels' box and k px of empty room around it, which opens exactly as the whole
    # mask would (outside the box there is nothing to keep): on a page with a few red-ish pixels, a tenth
    # of the work.
    x, y, w, h = cv2.boundingRect(mask)
    y0, y1, x0, x1 = max(0, y - k), min(mask.shape[0], y + h + k), max(0, x - k), min(mask.shape[1], x + w + k)
    box = np.ascontiguousarray(mask[y0:y1, x0:x1])  # its own array: the filter reads no pixel beyond it
    box = cv2.morphologyEx(box, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    value = float(np.count_nonzero(box) / mask.size)
    return check(value <= limit, value, limit, "a hand or finger covers the page")
