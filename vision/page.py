"""Find the page in a stand photo: its four corners, clockwise from the page's top-left.

Two steps, because the cheap one is not precise and the precise one needs a start:

1. On a copy about 640 px wide: Canny edges, closed; the stand is whatever plain area is connected to the
   frame's border (a flood fill), so the page is the largest region the stand does not reach. This works on
   dark and light stands alike (it needs an edge, not a brightness), and a finger reaching in from the frame
   edge stays part of the stand. An opening removes thin leftovers and the region's polygon gives 4 corners.
2. At full resolution: each side is refined by searching the strongest brightness step along its normal at
   many points and fitting a line robustly (Huber), then the corners are the lines' intersections. Points
   where a finger or shadow hides the edge are outliers the robust fit down-weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.geometry import halve

WORK_WIDTH = 640
GREY = np.array([0.114, 0.587, 0.299], np.float32)  # BGR weights of OpenCV's grey (ITU-R BT.601)
MIN_AREA = 0.08  # of the frame: smaller regions are not a page on this stand


@dataclass
class PageFind:
    """The page's corners in photo pixels (None when no page) and the found region's share of the frame."""

    quad: np.ndarray | None
    area_fraction: float
    border_contact: float = 0.0  # share of the page's outline lying on the frame's edge: a cut-off page


def order_clockwise(pts: np.ndarray) -> np.ndarray:
    """Corners clockwise (in image coordinates) starting from the top-left of an upright page.

    A page lies roughly upright on a stand (rotation well under 45 degrees), so the corner with the smallest
    x + y is the page's top-left.
    """
    pts = np.asarray(pts, np.float64).reshape(4, 2)
    centre = pts.mean(0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen (y down)
    start = int(np.argmin(pts.sum(1)))
    return np.roll(pts, -start, axis=0)


def _coarse(gray: np.ndarray, sat: np.ndarray) -> tuple[np.ndarray | None, float, float]:
    h, w = gray.shape
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    # Thresholds from the photo's own contrast, so the stand's texture and noise stay below them.
    lo, hi = np.percentile(blur, (5, 95))
    spread = max(float(hi - lo), 60.0)  # an empty stand has no contrast: keep its noise out
    edges = cv2.Canny(blur, 0.2 * spread, 0.5 * spread)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=2)
    free = (edges == 0).astype(np.uint8)
    # Plain areas the frame border reaches are stand (or a hand coming in from outside) ...
    _, labels = cv2.connectedComponents(free, connectivity=4)
    rim = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    ids, contact = np.unique(rim[rim > 0], return_counts=True)
    stand = np.zeros((h, w), bool)
    level = float(lo)
    if len(ids):
        # The region touching the border most is the stand, and its median the stand's level (so it is never
        # bright paper above that level: marked without a second look, the largest median of the lot).
        most = ids[np.argmax(contact)]
        stand = labels == most
        level = float(np.median(blur[stand]))
        for i in ids[ids != most]:
            part = labels == i
            # ... unless bright, neutral paper: a page the frame cuts off also reaches the border.
            paper = np.median(blur[part]) > level + max(35.0, 0.3 * spread) and np.median(sat[part]) < 60
            if not paper:
                stand |= part
    region = (~stand).astype(np.uint8)
    k = max(3, w // 60) | 1
    region = cv2.morphologyEx(region, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, 0.0, 0.0
    contour = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(contour) / (h * w)
    if area < MIN_AREA:
        return None, area, 0.0
    mine = np.zeros_like(region)
    cv2.drawContours(mine, [contour], -1, 1, -1)
    if np.median(blur[mine > 0]) < level + 35:
        return None, area, 0.0  # not paper: a fold of the stand's cloth, a shadow, a dark object
    on_rim = int(mine[0].sum() + mine[-1].sum() + mine[1:-1, 0].sum() + mine[1:-1, -1].sum())
    contact = on_rim / max(1.0, cv2.arcLength(contour, True))
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.02, 0.03, 0.04, 0.06, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return order_clockwise(approx.reshape(4, 2)), area, contact
    # No clean quadrilateral (a cut-off page can have five sides): its minimum-area rectangle.
    return order_clockwise(cv2.boxPoints(cv2.minAreaRect(hull))), area, contact


def _refine_side(photo: np.ndarray, a: np.ndarray, b: np.ndarray, inside: np.ndarray, reach: float) -> tuple | None:
    """A line through the strongest edge near segment a-b: (point, direction), or None when too few hits.

    The profiles are sampled from the photo as it is, grey or colour, and made grey here: a few thousand
    samples, where a grey copy of a 12 MP photo costs 3 ms.
    """
    h, w = photo.shape[:2]
    d = b - a
    length = float(np.hypot(*d))
    if length < 10:
        return None
    t = d / length
    n = np.array([-t[1], t[0]])
    if np.dot(inside - (a + b) / 2, n) < 0:
        n = -n  # normal points into the page
    ts = np.linspace(0.1, 0.9, 48)[:, None]
    offsets = np.arange(-reach, reach + 1, 1.0)
    base = a + ts * d
    samples = base[:, None, :] + offsets[None, :, None] * n  # (points, offsets, 2)
    xs = samples[..., 0].astype(np.float32)
    ys = samples[..., 1].astype(np.float32)
    prof = cv2.remap(photo, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    if prof.ndim == 3:
        prof = prof @ GREY
    valid = (xs >= 0) & (xs < w - 1) & (ys >= 0) & (ys < h - 1)
    # The page is brighter than a dark stand and than the shadow it casts on a light one: step up inward.
    step = np.diff(prof, axis=1)
    step[~(valid[:, 1:] & valid[:, :-1])] = 0
    best = np.argmax(step, axis=1)
    strength = step[np.arange(len(best)), best]
    keep = strength > max(4.0, 0.3 * float(np.median(strength)))
    if keep.sum() < 8:
        return None
    pts = (base[keep] + (offsets[best[keep]] + 0.5)[:, None] * n).astype(np.float32)
    for _ in range(3):
        vx, vy, x0, y0 = cv2.fitLine(pts, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        dist = np.abs((pts[:, 0] - x0) * vy - (pts[:, 1] - y0) * vx)
        inliers = dist < max(1.0, 3.0 * float(np.median(dist)))
        if inliers.all() or inliers.sum() < 8:
            break
        pts = pts[inliers]
    return np.array([x0, y0]), np.array([vx, vy])


def _intersect(l1: tuple, l2: tuple) -> np.ndarray | None:
    (p, r), (q, s) = l1, l2
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-6:
        return None
    u = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / den
    return p + u * r


def refine(photo: np.ndarray, quad: np.ndarray, reach: float) -> np.ndarray:
    """Corners from robust lines fitted to each side's edge; the coarse corner where a side cannot be fitted."""
    centre = quad.mean(0)
    lines = [_refine_side(photo, quad[i], quad[(i + 1) % 4], centre, reach) for i in range(4)]
    out = quad.copy()
    for i in range(4):
        prev, cur = lines[(i - 1) % 4], lines[i]
        if prev is None or cur is None:
            continue
        corner = _intersect(prev, cur)
        if corner is not None and np.hypot(*(corner - quad[i])) < 3 * reach:
            out[i] = corner
    return out


def find_page(image: np.ndarray, half: np.ndarray | None = None) -> PageFind:
    """The page in a BGR (or grey) stand photo; `half` is the photo halved (geometry.halve) if the caller has it.

    The coarse step's 640 px copy is made from the photo halved, grey at that size: a whole-factor halving
    of the colour photo costs less than a grey copy of the whole photo. The corners are refined on the
    photo itself.
    """
    h, w = image.shape[:2]
    f = WORK_WIDTH / w
    size = (WORK_WIDTH, max(1, round(h * f)))
    if half is None and w >= 2 * WORK_WIDTH:
        half = halve(image)
    source = image if half is None else half
    gray = source if source.ndim == 2 else cv2.cvtColor(source, cv2.COLOR_BGR2GRAY)
    while gray.shape[1] >= 2 * WORK_WIDTH:  # 12 MP: the half halved again, 0.1 ms
        gray = halve(gray)
    # The rest, under 2x, linearly: the copy is already an average of 4 x 4 photo pixels at 12 MP (2 x 2 at
    # 2 MP), and a fractional area step of 1014 -> 640 px costs eight times as much (1.6 ms).
    small = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR) if gray.shape[1] != size[0] else gray
    if image.ndim == 2:
        sat = np.zeros_like(small)
    else:  # colour only on a nearest-neighbour copy: only medians over regions are taken from it
        sat = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_NEAREST), cv2.COLOR_BGR2HSV)[..., 1]
    quad, area, contact = _coarse(small, sat)
    if quad is None:
        return PageFind(None, area)
    quad = quad / f
    # Two passes: a wide search from the coarse corners, then a narrow one from the refined ones.
    quad = refine(image, quad, reach=8.0 / f)
    quad = refine(image, quad, reach=max(4.0, 0.6 / f))
    return PageFind(order_clockwise(quad), area, contact)
