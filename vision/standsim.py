"""The simulated copy stand: photos of generated dossier pages with their ground truth.

Tests and the benchmark measure the correction against what is known to be true (where the page's
corners are, how skewed its text is, which faults the shot has) instead of eyeballing pictures.
Everything is drawn with NumPy, OpenCV and (for Chinese glyphs only) Pillow, deterministic from a seed.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

A4_MM = (210.0, 297.0)
SIZE_2MP = (1632, 1224)
SIZE_12MP = (4056, 3040)
FAULTS = ("blur", "overexposed", "cut_off", "finger", "no_page")
LAYINGS = ("upside_down",)
"""How a keeper may lay a page that the correction puts right (not a bad shot): given with the faults."""
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
HANZI = (
    "档案人员姓名性别出生年月籍贯工作单位职务学历政治面貌入党时间参加审核意见同意本人签字日期盖章年度考核登记表鉴定材料"
)
WORDS = tuple(
    [
        "personnel",
        "file",
        "record",
        "service",
        "appointment",
        "review",
        "annual",
        "assessment",
        "approved",
        "department",
        "date",
        "signature",
        "education",
        "position",
        "transfer",
        "salary",
        "grade",
        "office",
        "archive",
        "copy",
        "original",
        "page",
        "remarks",
    ]
)


@dataclass
class Shot:
    """One stand photo (BGR, uint8) and what is true about it."""

    image: np.ndarray
    truth: dict = field(default_factory=dict)
    jpeg: bytes = b""  # the photo as the camera's file: `image` is exactly this, decoded


def _paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    tint = np.array([228, 238, 242]) + rng.uniform(-6, 4, 3)
    page = np.empty((h, w, 3), np.uint8)
    page[:] = tint.clip(0, 245).astype(np.uint8)
    return page


@lru_cache(maxsize=8)
def _cjk_font(size: int) -> object | None:
    from PIL import ImageFont

    return ImageFont.truetype(str(CJK_FONT), size) if CJK_FONT.exists() else None


def _draw_cjk(page: np.ndarray, lines: list[tuple[int, int, str]], size: int) -> None:
    """Chinese text through Pillow (OpenCV's Hershey fonts have no CJK glyphs); stand-in strokes without the font."""
    font = _cjk_font(size)
    if font is None:
        for x, y, text in lines:
            for i in range(len(text)):
                x0 = x + i * size
                cv2.rectangle(page, (x0 + 2, y + 2), (x0 + size - 3, y + size - 3), (30, 30, 30), 1)
        return
    from PIL import Image, ImageDraw

    img = Image.fromarray(page)
    draw = ImageDraw.Draw(img)
    for x, y, text in lines:
        draw.text((x, y), text, font=font, fill=(25, 25, 25))
    page[:] = np.asarray(img)


def render_page(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A dossier page as printed: title, Chinese and Latin text, a ruled form, handwriting, a stamp, a photo."""
    page = _paper(rng, w, h)
    u = h / 297.0  # pixels per millimetre
    margin = int(20 * u)
    line_h = int(rng.uniform(6.5, 8.0) * u)
    cjk_size = int(line_h * 0.62)
    y = margin
    cjk_lines = [(int(w * 0.3), y, "".join(rng.choice(list(HANZI), 8)))]
    y += int(line_h * 1.8)
    n_text = int(rng.integers(5, 9))
    for i in range(n_text):
        if i % 2 == 0:
            cjk_lines.append((margin, y, "".join(rng.choice(list(HANZI), int((w - 2 * margin) / cjk_size) - 1))))
        else:
            words, x = [], margin
            text = ""
            while True:
                word = str(rng.choice(WORDS))
                if cv2.getTextSize(text + " " + word, cv2.FONT_HERSHEY_SIMPLEX, u * 0.13, 1)[0][0] > w - 2 * margin:
                    break
                text = (text + " " + word).strip()
                words.append(word)
            text += "."
            cv2.putText(
                page,
                text,
                (x, y + int(line_h * 0.55)),
                cv2.FONT_HERSHEY_SIMPLEX,
                u * 0.13,
                (30, 30, 30),
                1,
                cv2.LINE_AA,
            )
        y += line_h
    # A ruled form: a table with Chinese field names and handwriting-like entries.
    rows, cols = int(rng.integers(4, 7)), 4
    top, left, right = y + line_h, margin, w - margin
    row_h = int(line_h * 1.3)
    for r in range(rows + 1):
        cv2.line(page, (left, top + r * row_h), (right, top + r * row_h), (40, 40, 40), max(1, int(u * 0.3)))
    for c in range(cols + 1):
        x = left + (right - left) * c // cols
        cv2.line(page, (x, top), (x, top + rows * row_h), (40, 40, 40), max(1, int(u * 0.3)))
    for r in range(rows):
        cjk_lines.append((left + int(u * 2), top + r * row_h + int(u * 2), "".join(rng.choice(list(HANZI), 3))))
        _handwriting(
            page,
            rng,
            left + (right - left) // cols + int(u * 3),
            top + r * row_h + row_h // 2,
            int((right - left) / cols * 1.6),
            row_h // 3,
        )
    y = top + rows * row_h + line_h
    # A portrait photo (grey, as in old files) and a red round seal overlapping text.
    pw, ph = int(30 * u), int(40 * u)
    px, py = w - margin - pw, min(y, h - margin - ph)
    yy, xx = np.mgrid[0:ph, 0:pw]
    face = np.exp(-(((xx - pw / 2) / (pw * 0.28)) ** 2 + ((yy - ph * 0.4) / (ph * 0.25)) ** 2))
    grey = (70 + 120 * face + rng.normal(0, 6, face.shape)).clip(0, 255).astype(np.uint8)
    page[py : py + ph, px : px + pw] = grey[..., None]
    while y < h - margin - line_h and y < py + ph:
        text = "".join(rng.choice(list(HANZI), int((px - margin) / cjk_size) - 2))
        cjk_lines.append((margin, y, text))
        y += line_h
    _draw_cjk(page, cjk_lines, cjk_size)
    _stamp(page, rng, int(w * rng.uniform(0.35, 0.6)), int(min(y, h - margin - 25 * u)), int(20 * u))
    return page


def _handwriting(page: np.ndarray, rng: np.random.Generator, x: int, y: int, length: int, amp: int) -> None:
    t = np.linspace(0, 1, 120)
    xs = x + t * length * rng.uniform(0.3, 0.6)
    ys = y + amp * (0.6 * np.sin(t * rng.uniform(20, 35)) + 0.3 * np.sin(t * rng.uniform(5, 9) + 1))
    pts = np.stack([xs, ys], 1).astype(np.int32)
    cv2.polylines(page, [pts], False, (120, 50, 20), 2, cv2.LINE_AA)


def _stamp(page: np.ndarray, rng: np.random.Generator, cx: int, cy: int, r: int) -> None:
    """A red seal, multiplied onto the paper as ink does (text under it stays visible)."""
    layer = np.full(page.shape[:2], 255, np.uint8)
    cv2.circle(layer, (cx, cy), r, 0, max(2, r // 12), cv2.LINE_AA)
    star = [
        (
            cx + r * 0.35 * math.cos(a) * (1 if i % 2 == 0 else 0.45),
            cy + r * 0.35 * math.sin(a) * (1 if i % 2 == 0 else 0.45),
        )
        for i, a in enumerate(np.linspace(-math.pi / 2, 1.5 * math.pi, 11)[:-1])
    ]
    cv2.fillPoly(layer, [np.array(star, np.int32)], 0, cv2.LINE_AA)
    ink = (1 - layer.astype(np.float32) / 255)[..., None] * rng.uniform(0.7, 0.9)
    red = np.array([50, 40, 200], np.float32)
    region = page.astype(np.float32)
    page[:] = (region * (1 - ink) + (region * red / 255) * ink).clip(0, 255).astype(np.uint8)


def _specks(page: np.ndarray, rng: np.random.Generator, n: int) -> None:
    h, w = page.shape[:2]
    for _ in range(n):
        cv2.circle(
            page,
            (int(rng.uniform(0, w)), int(rng.uniform(0, h))),
            int(rng.integers(1, 3)),
            (60, 60, 60),
            -1,
            cv2.LINE_AA,
        )


def _undistort_points(pts: np.ndarray, center: np.ndarray, norm: float, k1: float) -> np.ndarray:
    """Photo (distorted) positions of undistorted points: fixed-point inversion of x_u = c + (x_d - c)(1 + k1 r_d^2)."""
    d = pts - center
    out = d.copy()
    for _ in range(30):
        r2 = (out**2).sum(1, keepdims=True) / norm**2
        out = d / (1 + k1 * r2)
    return out + center


def simulate(
    seed: int,
    size: tuple[int, int] = SIZE_2MP,
    faults: tuple[str, ...] = (),
    stand: str | None = None,
    page_seed: int | None = None,
) -> Shot:
    """One photo of a page on the stand; `faults` from FAULTS (and LAYINGS), `stand` "dark" or "light" (seeded
    when None). The truth's `page_quad` starts at the printed page's top-left, wherever that lies."""
    unknown = set(faults) - set(FAULTS) - set(LAYINGS)
    if unknown:
        raise ValueError(f"unknown faults: {sorted(unknown)}")
    rng = np.random.default_rng(seed)
    W, H = size
    stand = stand or ("dark" if rng.random() < 0.5 else "light")
    # The stand: a dark cloth or a light grey board with a faint texture.
    base = rng.uniform(25, 55) if stand == "dark" else rng.uniform(150, 180)
    tex = cv2.resize(rng.normal(0, 4, (H // 16 + 1, W // 16 + 1)).astype(np.float32), (W, H))
    photo = (base + tex)[..., None] * np.array([1.0, 1.0, rng.uniform(0.95, 1.05)], np.float32)

    rotation = float(rng.uniform(-8, 8))
    a = math.radians(rotation)
    fill = rng.uniform(0.8, 0.92)  # the page's bounding box over the frame's height, inside the frame
    page_h_photo = H * fill / (abs(math.cos(a)) + A4_MM[0] / A4_MM[1] * abs(math.sin(a)))
    # Rendered finer than it lands in the photo (a camera's optics integrate), at a size fixed by the frame
    # alone, so one page_seed gives the very same page in every shot.
    ph = int(H * 1.1)
    pw = int(ph * A4_MM[0] / A4_MM[1])
    # The printed page has its own seed when given, so the same page can be shot twice (a duplicate).
    page_rng = rng if page_seed is None else np.random.default_rng(page_seed)
    text_skew = float(page_rng.uniform(-1.5, 1.5))
    page = render_page(page_rng, pw, ph)
    if "upside_down" in faults:
        page = np.ascontiguousarray(page[::-1, ::-1])
    rot = cv2.getRotationMatrix2D((pw / 2, ph / 2), text_skew, 1.0)
    page = cv2.warpAffine(page, rot, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    _specks(page, rng, int(rng.integers(10, 40)))

    keystone = float(rng.uniform(0.92, 1.0))
    hw, hh = page_h_photo * A4_MM[0] / A4_MM[1] / 2, page_h_photo / 2
    local = np.array([[-hw * keystone, -hh], [hw * keystone, -hh], [hw, hh], [-hw, hh]])
    local += rng.normal(0, H * 0.004, local.shape)
    rmat = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    center = np.array([W / 2, H / 2]) + rng.uniform(-1, 1, 2) * (1 - fill) / 2 * 0.6 * H
    if "cut_off" in faults:
        side = int(rng.integers(0, 4))
        over = rng.uniform(0.05, 0.15)
        shift = [(0, -1), (1, 0), (0, 1), (-1, 0)][side]
        span = np.abs(local @ rmat.T).max(0)
        center = np.array([W / 2, H / 2]) + np.array(shift) * (np.array([W / 2, H / 2]) - span + over * 2 * span)
    quad_u = local @ rmat.T + center
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    homography = cv2.getPerspectiveTransform(src, quad_u.astype(np.float32))

    # The text's direction at the page's centre as it appears in the photo (keystone makes it vary elsewhere).
    t = math.radians(text_skew)
    ends = np.array([[[pw / 2, ph / 2]], [[pw / 2 + 100 * math.cos(t), ph / 2 - 100 * math.sin(t)]]], np.float64)
    (c0,), (c1,) = cv2.perspectiveTransform(ends, homography)
    photo_text_angle = -math.degrees(math.atan2(c1[1] - c0[1], c1[0] - c0[0]))
    k1 = float(rng.uniform(-0.03, 0.03))
    c = np.array([W / 2, H / 2])
    norm = math.hypot(W / 2, H / 2)
    xs, ys = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    r2 = ((xs - c[0]) ** 2 + (ys - c[1]) ** 2) / norm**2
    xu, yu = c[0] + (xs - c[0]) * (1 + k1 * r2), c[1] + (ys - c[1]) * (1 + k1 * r2)
    del r2
    hinv = np.linalg.inv(homography)
    den = hinv[2, 0] * xu + hinv[2, 1] * yu + hinv[2, 2]
    map_x = ((hinv[0, 0] * xu + hinv[0, 1] * yu + hinv[0, 2]) / den).astype(np.float32)
    map_y = ((hinv[1, 0] * xu + hinv[1, 1] * yu + hinv[1, 2]) / den).astype(np.float32)
    del xs, ys, xu, yu, den
    quad = _undistort_points(quad_u, c, norm, k1)
    if "upside_down" in faults:
        quad = np.roll(quad, -2, axis=0)  # the printed page's top-left is the paper's bottom-right as laid

    if "no_page" not in faults:
        warped = cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mask = cv2.remap(np.ones((ph, pw), np.float32), map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
        # The page lifts a little off the stand: a soft shadow below and right of it.
        shadow = cv2.GaussianBlur(np.roll(mask, (int(H * 0.006), int(H * 0.004)), (0, 1)), (0, 0), H * 0.006)
        photo *= (1 - 0.35 * shadow)[..., None]
        photo = photo * (1 - mask[..., None]) + warped.astype(np.float32) * mask[..., None]
    del map_x, map_y
    if "finger" in faults:
        _finger(photo, rng, quad)
    # Uneven light: a tilted plane and a vignette, brightest part at most 1.0 (a well-exposed stand).
    yy, xx = np.mgrid[0:H:8, 0:W:8].astype(np.float32)
    g = rng.uniform(-0.12, 0.12, 2)
    light = 1 + g[0] * (xx / W - 0.5) * 2 + g[1] * (yy / H - 0.5) * 2
    light -= rng.uniform(0.05, 0.15) * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2) * 4
    light = cv2.resize(light / light.max(), (W, H))
    gain = rng.uniform(1.7, 2.2) if "overexposed" in faults else 1.0
    photo *= (light * gain)[..., None]
    if "blur" in faults:
        photo = cv2.GaussianBlur(photo, (0, 0), H * rng.uniform(0.0025, 0.004))
    photo += rng.normal(0, rng.uniform(1.5, 3.5), (H, W, 1)).astype(np.float32)
    image = photo.clip(0, 255).astype(np.uint8)
    quality = int(rng.integers(82, 95))
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    truth = {
        "seed": seed,
        "page_seed": page_seed,
        "size": [W, H],
        "stand": stand,
        "faults": sorted(faults),
        "page_size_mm": list(A4_MM),
        "page_quad": None if "no_page" in faults else [[round(float(x), 2), round(float(y), 2)] for x, y in quad],
        "rotation_deg": rotation,
        "text_skew_deg": text_skew,
        "photo_text_angle_deg": photo_text_angle,
        "keystone": keystone,
        "lens_k1": k1,
        "jpeg_quality": quality,
    }
    return Shot(image, truth, jpeg)


def _finger(photo: np.ndarray, rng: np.random.Generator, quad: np.ndarray) -> None:
    """A keeper's finger reaching from the nearest frame edge over the page's edge, holding it flat."""
    H, W = photo.shape[:2]
    i = int(rng.integers(0, 4))
    a, b = quad[i], quad[(i + 1) % 4]
    p = a + (b - a) * rng.uniform(0.3, 0.7)
    inward = quad.mean(0) - p
    inward /= np.linalg.norm(inward)
    tip = p + inward * H * rng.uniform(0.03, 0.06)
    base = p - inward * (W + H)  # the hand comes from outside, across the page's edge
    width = int(H * rng.uniform(0.035, 0.05))
    skin = np.array([120, 150, 205], np.float32) * rng.uniform(0.85, 1.05)
    mask = np.zeros((H, W), np.uint8)
    cv2.line(mask, (int(base[0]), int(base[1])), (int(tip[0]), int(tip[1])), 255, width, cv2.LINE_AA)
    m = cv2.GaussianBlur(mask, (0, 0), 1.5).astype(np.float32)[..., None] / 255
    shade = cv2.GaussianBlur(mask, (0, 0), width / 3).astype(np.float32)[..., None] / 255
    photo[:] = photo * (1 - m) + skin * (0.75 + 0.25 * shade) * m


def ground_truth_corner_error(found: list | np.ndarray, truth: list | np.ndarray) -> float:
    """Largest corner distance as a fraction of the true page diagonal (the issue's accuracy measure)."""
    f, t = np.asarray(found, float), np.asarray(truth, float)
    diag = max(np.linalg.norm(t[0] - t[2]), np.linalg.norm(t[1] - t[3]))
    return float(np.linalg.norm(f - t, axis=1).max() / diag)


class StandScene:
    """What lies under the simulated camera, changed by the simulated keeper: the page, a hand, a spoilt shot.

    Each time a page is laid down it lands in a new position (`placement`), so a preview shows motion
    exactly when the keeper changes something, as on a real stand. Thread-safe: the keeper and the camera
    run on different threads.
    """

    def __init__(self, stand: str = "dark") -> None:
        self._lock = threading.Lock()
        self.stand = stand
        self.page_seed: int | None = None
        self.placement = 0
        self.hand = False
        self.spoilt: tuple[str, ...] = ()

    def lay(self, page_seed: int, spoilt: tuple[str, ...] = ()) -> None:
        """A page laid flat (the same seed is the same printed page); `spoilt` faults for the shots of it."""
        unknown = set(spoilt) - set(FAULTS) - set(LAYINGS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        with self._lock:
            self.page_seed, self.spoilt, self.hand = page_seed, tuple(spoilt), False
            self.placement += 1

    def reach_in(self) -> None:
        """The keeper's hand over the page (turning it, straightening it)."""
        with self._lock:
            self.hand = True
            self.placement += 1

    def clear(self) -> None:
        """Nothing on the stand."""
        with self._lock:
            self.page_seed, self.spoilt, self.hand = None, (), False
            self.placement += 1

    def view(self) -> tuple[int, int | None, tuple[str, ...]]:
        """(placement, page seed, faults) as the camera sees the stand now."""
        with self._lock:
            faults = set(self.spoilt)
            if self.page_seed is None:
                faults.add("no_page")
            if self.hand:
                faults.add("finger")
            return self.placement, self.page_seed, tuple(sorted(faults))
