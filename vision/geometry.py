"""From the page's corners in the photo to a flat, upright page at a known resolution.

The target size comes from the page's real size (a hint such as A4, or the stand's calibration in pixels
per millimetre) so that a master says truthfully how many dots per inch it has. The deskew rotation and the
margin are folded into the same homography, so the photo is resampled exactly once.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hardware.config import PAGE_SIZES_MM

MM_PER_INCH = 25.4


def page_size_mm(hint: str | tuple[float, float] | None, quad: np.ndarray, px_per_mm: float | None) -> tuple:
    """The page's (width, height) in mm: from a named size, explicit mm, or the stand's calibration.

    A named size is turned to match the photo (landscape pages stay landscape).
    """
    w_px = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    h_px = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    if hint is None:
        if not px_per_mm:
            raise ValueError("need a page size hint (e.g. A4) or the stand's calibration in px/mm")
        return float(w_px / px_per_mm), float(h_px / px_per_mm)
    if isinstance(hint, str):
        key = hint.upper()
        if key not in PAGE_SIZES_MM:
            raise ValueError(f"unknown page size {hint!r}; known: {', '.join(PAGE_SIZES_MM)}")
        a, b = PAGE_SIZES_MM[key]
    else:
        a, b = (float(v) for v in hint)
        if not (10 <= a <= 2000 and 10 <= b <= 2000):
            raise ValueError(f"page size {hint!r} mm is not plausible")
    short, long_ = min(a, b), max(a, b)
    return (long_, short) if w_px > h_px else (short, long_)


def native_dpi(quad: np.ndarray, size_mm: tuple[float, float]) -> float:
    """Dots per inch the photo really holds on the page: the shorter side's pixels over its inches (the worst)."""
    w_px = min(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))
    h_px = min(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))
    return float(min(w_px / (size_mm[0] / MM_PER_INCH), h_px / (size_mm[1] / MM_PER_INCH)))


def page_homography(
    quad: np.ndarray, size_mm: tuple[float, float], dpi: float, margin_mm: float = 0.0, skew_deg: float = 0.0
) -> tuple[np.ndarray, tuple[int, int]]:
    """Homography from photo pixels to the output canvas, and the canvas (width, height).

    The page fills the canvas less `margin_mm` on every side; `skew_deg` (text skew measured on the flat page,
    counter-clockwise positive as OpenCV measures it) is undone by rotating about the page's centre.
    """
    s = dpi / MM_PER_INCH
    m = margin_mm * s
    pw, ph = size_mm[0] * s, size_mm[1] * s
    out_w, out_h = round(pw + 2 * m), round(ph + 2 * m)
    dst = np.array([[m, m], [m + pw, m], [m + pw, m + ph], [m, m + ph]], np.float32)
    h = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), dst)
    if skew_deg:
        rot = np.vstack([cv2.getRotationMatrix2D((out_w / 2, out_h / 2), -skew_deg, 1.0), [0, 0, 1]])
        h = rot @ h
    return h, (out_w, out_h)


def warp(
    image: np.ndarray, homography: np.ndarray, size: tuple[int, int], rows: int = 512, cols: int = 192
) -> np.ndarray:
    """Resample once; area interpolation is not available for perspective, so linear (cubic costs 2x).

    Give a 4-channel (BGRA) photo where speed matters: OpenCV resamples 4 channels with vector code, in
    half the time 3 take. The result is BGR either way, resampled in tiles of `rows` x `cols`, so no
    4-channel copy of the page is ever made. Tiles, not whole-width strips: a row of a page turned a few
    degrees in the photo crosses a hundred or more of the photo's rows, more than the CPU's cache holds;
    a tile reads a patch that fits, and a page turned 6 degrees warps in 27 ms instead of 60. Tall and narrow
    (512 rows by 192 columns) was measured best at 12 MP: 26 ms median over the bench's six pages against
    28 for 256 x 256, and 26-27 instead of 31 on the two turned 6-7 degrees.
    """
    if image.ndim == 2 or image.shape[2] == 3:
        return cv2.warpPerspective(image, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w, h = size
    out = np.empty((h, w, 3), np.uint8)
    for y in range(0, h, rows):
        n = min(rows, h - y)
        for x in range(0, w, cols):
            m = min(cols, w - x)
            shifted = np.array([[1.0, 0, -x], [0, 1, -y], [0, 0, 1]]) @ homography  # the tile at the origin
            tile = cv2.warpPerspective(image, shifted, (m, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            cv2.cvtColor(tile, cv2.COLOR_BGRA2BGR, dst=out[y : y + n, x : x + m])
    return out


def source_box(
    homography: np.ndarray, size: tuple[int, int], shape: tuple[int, ...], pad: float = 0.0
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the photo pixels a warp to `size` reads, widened by `pad` px, within the photo.

    A homography maps the canvas's outline to a quadrilateral that holds every point sampled inside it, and
    linear interpolation reads one pixel beyond; where the box meets the photo's edge it is the photo's edge,
    so a warp of the box (see `crop_homography`) replicates the same border pixels the whole photo would.
    """
    w, h = size
    corners = map_points(np.linalg.inv(homography), [[0, 0], [w, 0], [w, h], [0, h]])
    x0, y0 = np.floor(corners.min(0) - 2 - pad)
    x1, y1 = np.ceil(corners.max(0) + 2 + pad)
    return int(max(0, x0)), int(max(0, y0)), int(min(shape[1], max(1, x1))), int(min(shape[0], max(1, y1)))


def crop_homography(homography: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The same mapping from a crop whose top-left is the photo's (box[0], box[1])."""
    return homography @ np.array([[1.0, 0, box[0]], [0, 1, box[1]], [0, 0, 1]])


def contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average `image` down to `size` (width, height) in two steps: by the largest whole factor first,
    OpenCV's fast path (a fractional area resize of a 12 MP photo costs 6x more), then the small rest."""
    k = min(image.shape[1] // size[0], image.shape[0] // size[1])
    if k > 1:
        image = cv2.resize(image, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def halve(image: np.ndarray) -> np.ndarray:
    """The image area-averaged to half its width and height (an odd last row or column is left out).

    A factor of exactly 2 takes OpenCV's vector path: a 12 MP photo halves in under 4 ms, while a grey
    conversion of the whole photo and a fractional shrink of it cost twice that. Pixel (i, j) of the half is
    the mean of the photo's (2i .. 2i+1, 2j .. 2j+1): see `from_halved`.
    """
    h, w = image.shape[:2]
    return cv2.resize(image[: h // 2 * 2, : w // 2 * 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)


# Photo pixel coordinates of a halved image's pixel: centre of the 2 x 2 block it averages.
FROM_HALVED = np.array([[2.0, 0, 0.5], [0, 2, 0.5], [0, 0, 1]])


def map_points(homography: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), homography).reshape(-1, 2)


def rotation_of(quad: np.ndarray) -> float:
    """The page's rotation in the photo, degrees (its top edge against the horizontal)."""
    dx, dy = quad[1] - quad[0]
    return math.degrees(math.atan2(dy, dx))
