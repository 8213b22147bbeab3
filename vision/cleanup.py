"""Even light, no dust: clean-up of the flat colour page, and the optional bitonal copy for OCR.

The colour master is only ever multiplied by a smooth gain (flattening) and has isolated specks painted
over; it is never thresholded, because seals, red headers and photos must keep their colour (DA/T 31-2017).
"""

from __future__ import annotations

import cv2
import numpy as np

PAPER = 245.0  # the level flattened paper is brought to: white, with headroom so nothing clips


def _poly_terms(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    return np.stack([x**i * y**j for i in range(degree + 1) for j in range(degree + 1 - i)], 1)


def background(image: np.ndarray, degree: int = 3) -> np.ndarray:
    """The light falling on the paper, per channel, as a smooth surface at about 1/10 of the page's width.

    Background-surface fitting: a max filter drops the ink, then a bivariate polynomial is fitted by least
    squares to what is left, iteratively rejecting samples well below the surface (a photo, a table, the seal,
    the stand in the margin), which a plain large blur or morphological closing would smear into the light.
    """
    w = image.shape[1]
    k = max(1, w // 96)  # an integer factor takes OpenCV's fast area-averaging path
    small = cv2.resize(image, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA).astype(np.float32)
    sh, sw = small.shape[:2]
    small = cv2.dilate(small, np.ones((3, 3), np.uint8))
    yy, xx = np.mgrid[0:sh, 0:sw]
    x, y = (xx.ravel() / sw - 0.5) * 2, (yy.ravel() / sh - 0.5) * 2
    terms = _poly_terms(x, y, degree)
    chans = small.reshape(-1, small.shape[2]) if small.ndim == 3 else small.reshape(-1, 1)
    lum = chans.mean(1)
    keep = lum > np.percentile(lum, 30)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(terms[keep], lum[keep], rcond=None)
        fit = terms @ coef
        keep = lum > fit * 0.92
    out = np.empty_like(chans)
    for c in range(chans.shape[1]):
        coef, *_ = np.linalg.lstsq(terms[keep], chans[keep, c], rcond=None)
        out[:, c] = terms @ coef
    return out.reshape(sh, sw, -1).clip(1, 255)


def flatten(image: np.ndarray) -> np.ndarray:
    """Divide out the light: paper becomes evenly PAPER-white and ink keeps its contrast to it.

    The light's shape is taken from the luminance (one float map at full size) and its colour from the
    channels' mean ratios (a white balance); the product is applied in strips of rows, so a 300 dpi A4 page
    never has a full float copy of itself (memory matters on a Pi Zero). Float, not 8-bit, gain: a coarse
    gain shows as contour bands on the paper.
    """
    h, w = image.shape[:2]
    bg = background(image)
    lum = bg.mean(axis=2)
    balance = (lum[..., None] / bg).reshape(-1, bg.shape[2]).mean(0).astype(np.float32)
    gain = cv2.resize((PAPER / lum).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if image.ndim == 2:
        return (image * gain).clip(0, 255).astype(np.uint8)
    out = np.empty_like(image)
    for y in range(0, h, 256):
        g = gain[y : y + 256]
        g3 = cv2.merge([g * balance[0], g * balance[1], g * balance[2]])
        out[y : y + 256] = cv2.multiply(image[y : y + 256], g3, dtype=cv2.CV_8U)
    return out


def despeckle(image: np.ndarray, dpi: float, max_speck_mm: float = 1.5, near_mm: float = 2.5) -> tuple:
    """Paint out small dark specks that stand alone; returns (image, number removed).

    A dot is dust when it is small (under `max_speck_mm` across) AND far from any larger ink (`near_mm`):
    full stops, commas, the dots of i and the short strokes of hanzi sit next to other ink, so they stay.
    Uses connected components (OpenCV) of the ink mask; thin strokes are connected to their characters.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Components are found at about 150 dpi (a speck is still several pixels there), four times cheaper
    # than at 300 dpi; the paint-out is done at full resolution.
    f = 2 if dpi >= 250 else 1
    small_gray = cv2.resize(gray, None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA) if f > 1 else gray
    ink = (small_gray < 0.8 * PAPER).astype(np.uint8)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return image, 0
    px = dpi / 25.4 / f
    small_side = max(2, round(max_speck_mm * px))
    area = stats[1:, cv2.CC_STAT_AREA]
    span = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    small = (span <= small_side) & (area <= small_side * small_side)
    lut = np.zeros(n, bool)
    lut[1:] = ~small
    big = lut[labels].astype(np.uint8)
    r = max(1, round(near_mm * px))
    # Larger ink within `near_mm` (a square: a rectangular dilation is separable, so cheap at any size).
    near = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)))
    ids = np.flatnonzero(small) + 1
    ids = ids[near[centroids[ids, 1].astype(int), centroids[ids, 0].astype(int)] == 0]
    out = image.copy()
    removed = 0
    hgt, wid = gray.shape
    for i in ids:
        x, y, w, h = stats[i, :4]
        # The speck at full resolution: its box, a pixel of room around, its own dark pixels.
        x0, y0 = max(0, (x - 1) * f), max(0, (y - 1) * f)
        x1, y1 = min(wid, (x + w + 1) * f), min(hgt, (y + h + 1) * f)
        box = out[y0:y1, x0:x1]
        dark = (gray[y0:y1, x0:x1] < 0.9 * PAPER).astype(np.uint8)
        spot = cv2.dilate(dark, np.ones((3, 3), np.uint8)).astype(bool)
        ring = box[~spot]
        if len(ring):
            box[spot] = np.median(ring, axis=0)
        removed += 1
    return out, removed


def bitonal(image: np.ndarray) -> np.ndarray:
    """Black text on white for OCR: Otsu's threshold (Otsu 1979) on the flattened page's grey."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return bw
