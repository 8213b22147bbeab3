"""Even light, no dust: clean-up of the flat colour page, and the optional bitonal copy for OCR.

The colour master is only ever multiplied by a smooth gain (flattening) and has isolated specks painted
over; it is never thresholded, because seals, red headers and photos must keep their colour (DA/T 31-2017).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

PAPER = 245.0  # the level flattened paper is brought to: white, with headroom so nothing clips


# Up to this many small dark components, each is looked up in its own window (see despeckle); beyond, the
# whole page's mask of larger ink is grown once (about 4 ms at 150 dpi, what 250-350 windows cost).
FEW_SPECKS = 200

# Rows that share one stretch of the light's gain (see flatten).
GAIN_BLOCK = 8


def _terms(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """The polynomial's terms at points (x, y) in [-1, 1], one row per point (powers by multiplication:
    NumPy's `x**3` calls pow() per element, ten times the cost)."""
    xp, yp = [np.ones_like(x)], [np.ones_like(y)]
    for _ in range(degree):
        xp.append(xp[-1] * x)
        yp.append(yp[-1] * y)
    return np.stack([xp[i] * yp[j] for i in range(degree + 1) for j in range(degree + 1 - i)], 1)


@functools.lru_cache(maxsize=8)
def _poly_terms(sh: int, sw: int, degree: int) -> np.ndarray:
    """The polynomial's terms at every point of an sh x sw grid, coordinates in [-1, 1].

    Kept: a stand shoots page after page of the same size, and building them cost as much as the fit.
    """
    yy, xx = np.mgrid[0:sh, 0:sw]
    terms = _terms((xx.ravel() / sw - 0.5) * 2, (yy.ravel() / sh - 0.5) * 2, degree)
    terms.flags.writeable = False  # shared between calls
    return terms


def _fit_light(image: np.ndarray, degree: int) -> tuple[np.ndarray, int, tuple[int, int]]:
    """The light's polynomial fitted on `image`: (coefficients, one column per channel; the coarse grid's
    whole factor k; the grid's (rows, columns)). Grid point (i, j) is the mean of the image's k x k block
    at (k i, k j), and its coordinates are ((j / columns - 0.5) 2, (i / rows - 0.5) 2)."""
    w = image.shape[1]
    k = max(1, w // 96)  # an integer factor takes OpenCV's fast area-averaging path
    f = k
    if f % 2 == 0 and f > 2:
        # Halving has OpenCV's vector code: halving, then the rest, is half the time of one 26x step at 300 dpi
        # (the two roundings to 8 bits move the coarse image by a level or two, far below the fit's residual).
        image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        f //= 2
    small = cv2.resize(image, None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA).astype(np.float32)
    sh, sw = small.shape[:2]
    small = cv2.dilate(small, np.ones((3, 3), np.uint8))
    terms = _poly_terms(sh, sw, degree)
    chans = small.reshape(-1, small.shape[2]) if small.ndim == 3 else small.reshape(-1, 1)
    lum = chans.mean(1)
    keep = lum > np.percentile(lum, 30)
    for _ in range(4):
        fit = terms @ _fit(terms[keep], lum[keep])
        keep = lum > fit * 0.92
    return _fit(terms[keep], chans[keep].astype(np.float64)), k, (sh, sw)


def background(image: np.ndarray, degree: int = 3) -> np.ndarray:
    """The light falling on the paper, per channel, as a smooth surface at about 1/10 of the page's width.

    Background-surface fitting: a max filter drops the ink, then a bivariate polynomial is fitted by least
    squares to what is left, iteratively rejecting samples well below the surface (a photo, a table, the seal,
    the stand in the margin), which a plain large blur or morphological closing would smear into the light.
    """
    coeffs, _, (sh, sw) = _fit_light(image, degree)
    out = (_poly_terms(sh, sw, degree) @ coeffs).astype(np.float32)
    return out.reshape(sh, sw, -1).clip(1, 255)


def background_from(work: np.ndarray, to_work: np.ndarray, size: tuple[int, int], degree: int = 3) -> np.ndarray:
    """The light on a page `size` (width, height) px, fitted on `work`, a smaller copy of the same page, and
    sampled where `flatten` stretches its coarse map from; `to_work` maps the page's pixels to work's.

    The pipeline has the page at 120 dpi already (the work copy, for the skew and the checks): its coarse
    grid costs a millisecond, where making one from the 300 dpi master costs six. The light is smooth, so
    the 120 dpi page shows it as well; the master's margin (a few mm of stand, which the fit rejects
    anyway) lies just outside the work copy's page and gets the polynomial carried on a little.
    """
    coeffs, k, (sh, sw) = _fit_light(work, degree)
    w, h = size
    f = max(1, w // 96)
    gw, gh = max(1, round(w / f)), max(1, round(h / f))
    # Grid point j of a map gw wide, stretched linearly to w px (cv2.resize), lands on pixel (j + 0.5) w / gw - 0.5.
    yy, xx = np.mgrid[0:gh, 0:gw]
    pts = np.stack([(xx.ravel() + 0.5) * w / gw - 0.5, (yy.ravel() + 0.5) * h / gh - 0.5], 1)
    u = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), to_work).reshape(-1, 2)
    # Work pixel u is coarse grid point (u - (k - 1) / 2) / k (the centre of its k x k block).
    x = ((u[:, 0] - (k - 1) / 2) / k / sw - 0.5) * 2
    y = ((u[:, 1] - (k - 1) / 2) / k / sh - 0.5) * 2
    out = (_terms(x, y, degree) @ coeffs).astype(np.float32)
    return out.reshape(gh, gw, -1).clip(1, 255)


def _fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations: 10 terms on coordinates in [-1, 1] are well conditioned, and
    a 10x10 solve is a hundred times cheaper than `lstsq`'s SVD (which also wakes BLAS threads)."""
    if len(a) < a.shape[1]:
        return np.linalg.lstsq(a, b, rcond=None)[0]  # too few samples for a unique fit: the minimum-norm one
    return np.linalg.solve(a.T @ a, a.T @ b)


def flatten(image: np.ndarray, rows: int = 64, light: np.ndarray | None = None, inplace: bool = False) -> np.ndarray:
    """Divide out the light: paper becomes evenly PAPER-white and ink keeps its contrast to it.

    `light` is the light on `image` as a coarse map (`background_from`); without it, `background(image)`.
    `inplace` multiplies `image` itself (the pipeline's own master): no second 27 MB page to allocate and
    fault in.
    The light's shape is taken from the luminance and its colour from the channels' mean ratios (a white
    balance). The gain is never made at full size: it is stretched to the page's width once per GAIN_BLOCK
    rows (a band shares the gain of its middle row), and each strip of `rows` rows copies its bands' gain
    into one reused buffer and is multiplied in. The light is smooth: 4 rows from a band's middle at 300 dpi
    its gain differs by 0.06 of a level on the simulated stand (1 pixel in 100 comes out one level apart),
    and stretching every row's own gain was half of the 18 ms a page took (13 now). A 300 dpi A4 page never
    has a float copy of itself (memory matters on a Pi Zero).
    Float, not 8-bit, gain: a coarse gain shows as contour bands on the paper.
    """
    h, w = image.shape[:2]
    bg = background(image) if light is None else light
    lum = bg.mean(axis=2)
    gain = PAPER / lum
    if image.ndim == 3:
        balance = (lum[..., None] / bg).reshape(-1, bg.shape[2]).mean(0)
        gain = gain[..., None] * balance
    # Row y takes band y // GAIN_BLOCK's gain, sampled at the band's middle: the coarse map stretched to
    # every row on its own few columns (cheap), then the bands' middle rows stretched to the page's width.
    tall = cv2.resize(gain.astype(np.float32), (gain.shape[1], h), interpolation=cv2.INTER_LINEAR)
    middles = np.minimum(np.arange(0, h, GAIN_BLOCK) + GAIN_BLOCK // 2, h - 1)  # each band's middle row
    bands = cv2.resize(tall[middles], (w, len(middles)), interpolation=cv2.INTER_LINEAR)
    bands = bands.reshape(len(middles), w, -1)
    out = image if inplace else np.empty_like(image)
    rows = max(1, rows // GAIN_BLOCK) * GAIN_BLOCK  # strips of whole bands
    buf = np.empty((rows // GAIN_BLOCK, GAIN_BLOCK, w, bands.shape[2]), np.float32)
    for y in range(0, h, rows):
        n = min(rows, h - y)
        first, count = y // GAIN_BLOCK, -(-n // GAIN_BLOCK)
        buf[:count] = bands[first : first + count, None]  # each band's gain row, copied to its rows
        cv2.multiply(image[y : y + n], buf.reshape(rows, w, *image.shape[2:])[:n], dst=out[y : y + n], dtype=cv2.CV_8U)
    return out


def despeckle(
    image: np.ndarray,
    dpi: float,
    max_speck_mm: float = 1.5,
    near_mm: float = 2.5,
    inplace: bool = False,
    gray: np.ndarray | None = None,
) -> tuple:
    """Paint out small dark specks that stand alone; returns (image, number removed).

    A dot is dust when it is small (under `max_speck_mm` across) AND far from any larger ink (`near_mm`):
    full stops, commas, the dots of i and the short strokes of hanzi sit next to other ink, so they stay.
    Uses connected components (OpenCV) of the ink mask; thin strokes are connected to their characters.
    `inplace` paints into `image` itself (the pipeline's own master) instead of a copy. `gray` is the image's
    grey when the caller has made it already (the pipeline's checks need it too); with `inplace` it is
    brought up to date where specks are painted out, so it stays the grey of the cleaned page.
    """
    if gray is None:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Components are found at about 150 dpi (a speck is still several pixels there), four times cheaper
    # than at 300 dpi; the paint-out is done at full resolution.
    f = 2 if dpi >= 250 else 1
    small_gray = cv2.resize(gray, None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA) if f > 1 else gray
    # Ink: darker than 0.8 PAPER (1 below it, 0 above), in one pass; NumPy's compare and cast take two.
    _, ink = cv2.threshold(small_gray, math.ceil(0.8 * PAPER) - 1, 1, cv2.THRESH_BINARY_INV)
    # Grana's block-based labelling, named: the same labels and stats as the default (Spaghetti) gives, but
    # single-threaded at 150 dpi it takes 6 ms instead of 14.
    n, labels, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_32S, cv2.CCL_GRANA)
    if n <= 1:
        return image, 0
    px = dpi / 25.4 / f
    small_side = max(2, round(max_speck_mm * px))
    area = stats[1:, cv2.CC_STAT_AREA]
    span = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    small = (span <= small_side) & (area <= small_side * small_side)
    lut = np.zeros(n, np.uint8)
    lut[1:] = ~small  # 1: a larger component
    r = max(1, round(near_mm * px))
    ids = np.flatnonzero(small) + 1
    cx, cy = centroids[ids, 0].astype(int), centroids[ids, 1].astype(int)
    if len(ids) <= FEW_SPECKS:
        # Larger ink within `near_mm` (a square) of each small one's centre, looked up in its own window:
        # a page has tens of candidates, and their windows are a fraction of the page.
        alone = [
            not lut[labels[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]].any()
            for x, y in zip(cx, cy, strict=True)
        ]
        ids = ids[np.array(alone, bool)]
    else:  # many candidates: the larger ink's mask, grown by a separable square dilation, looked up once
        big = np.take(lut, labels)  # an 8-bit table: a third of the cost of indexing a bool one and converting
        near = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)))
        ids = ids[near[cy, cx] == 0]
    out = image if inplace else image.copy()
    removed = 0
    hgt, wid = gray.shape
    painted = []
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
            painted.append((y0, y1, x0, x1))
        removed += 1
    if inplace and out.ndim == 3:  # after the loop: every speck's own dark pixels came from the grey as it was
        for y0, y1, x0, x1 in painted:
            gray[y0:y1, x0:x1] = cv2.cvtColor(out[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    return out, removed


def bitonal(image: np.ndarray) -> np.ndarray:
    """Black text on white for OCR: Otsu's threshold (Otsu 1979) on the flattened page's grey."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return bw
