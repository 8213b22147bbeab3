"""Reading a photo file we did not make: refuse what is empty, truncated, too large or not an image.

OpenCV decodes a truncated JPEG without complaint (the missing rows come out grey), so the file's end is
checked before trusting it; Pillow reads the header first, cheaply, so a decompression bomb is refused
before any pixel is decoded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

FORMATS = {"JPEG", "PNG", "TIFF", "BMP", "WEBP"}
MAX_BYTES = 200 * 1024 * 1024
MAX_PIXELS = 80_000_000  # a 61 MP full-frame camera fits; a crafted 1 Gpx header does not


class PhotoError(ValueError):
    """A photo that cannot be used, with a message a keeper can act on."""


def _complete(data: bytes, fmt: str, path: Path) -> None:
    """The file ends where its format says it must; otherwise Pillow decodes it fully to be sure."""
    tail = data.rstrip(b"\0\r\n ")
    if fmt == "JPEG" and tail.endswith(b"\xff\xd9"):
        return
    if fmt == "PNG" and tail.endswith(b"IEND\xaeB`\x82"):
        return
    if fmt not in ("JPEG", "PNG"):
        return
    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{path}: truncated or corrupt {fmt} ({exc})") from exc


def read_photo(path: Path) -> np.ndarray:
    """The photo as 8-bit BGR, EXIF orientation applied (as the camera meant it to be seen)."""
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise PhotoError(f"{path}: empty file")
    if size > MAX_BYTES:
        raise PhotoError(f"{path}: {size} bytes is too large for a page photo")
    try:
        with Image.open(path) as img:
            fmt, (w, h) = img.format, img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoError(f"{path}: not an image ({type(exc).__name__})") from exc
    if fmt not in FORMATS:
        raise PhotoError(f"{path}: {fmt} is not a photo format here ({', '.join(sorted(FORMATS))})")
    if w * h > MAX_PIXELS:
        raise PhotoError(f"{path}: {w}x{h} pixels is too large for a page photo")
    data = path.read_bytes()
    _complete(data, fmt, path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoError(f"{path}: corrupt {fmt}, cannot be decoded")
    return image
