"""Files a dossier's pages become: a lossless master, an access JPEG, one PDF, and a manifest with hashes.

Names follow the dossier code and page number (`<dossier code>/<page, 4 digits>`), as DA/T 31-2017 asks
for file names from the archival code. The access JPEG carries its own description (EXIF and XMP), so a
copy that leaves the system still says which dossier and page it is, when and on what it was taken. The
manifest records every file's SHA-256: the gateway uploads idempotently by hash and an auditor can verify.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import img2pdf
import numpy as np
import tifffile
from PIL import Image

from hardware.files import sha256_of

DOSSIER_CODE = re.compile(r"^[\w][\w.-]{0,63}$")  # letters (any script), digits, _ . - ; no path tricks
MASTER_FORMATS = ("tiff", "png")  # DA/T 31-2017 names TIFF (and JPEG) masters; PNG is our lossless extra
# The TIFF master's Deflate level. Level 1 of libdeflate (imagecodecs) costs about 110 ms for a 300 dpi A4
# colour page and gives about 10 MB: a photographed page is mostly camera noise, which no level compresses
# (level 6 takes 3.5x the time for 12 % less; uncompressed is 27 MB). bench/README.md has the table.
TIFF_DEFLATE_LEVEL = 1
MANIFEST = "manifest.json"  # in each dossier's folder


@dataclass(frozen=True)
class PageMeta:
    """What a page file says about itself."""

    dossier: str
    page: int
    captured: str  # ISO 8601 with offset
    device: str
    dpi: float

    def __post_init__(self) -> None:
        check_dossier(self.dossier)
        if not 1 <= self.page <= 9999:
            raise ValueError(f"page number {self.page} outside 1..9999")


def check_dossier(code: str) -> str:
    if not DOSSIER_CODE.match(code or "") or ".." in code:
        raise ValueError(f"dossier code {code!r}: use letters, digits, '_', '.', '-' (at most 64)")
    return code


def stem(meta: PageMeta) -> str:
    return f"{meta.page:04d}"


def _rgb(image: np.ndarray) -> np.ndarray:
    """The page in the files' channel order (OpenCV holds it as BGR); grey pages stay grey."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@contextmanager
def _atomic(*paths: Path) -> Iterator[Path | tuple[Path, ...]]:
    """Temporary names beside `paths` to write the files under (one name for one path, a tuple for several).

    They are renamed to their real names only once every one is whole, in the order given: a crash never
    leaves half a file under a real name, and files that belong together (a page's images and the manifest
    naming them, last) land together. If any write fails, every temporary file is removed, so a card that ran
    full is not left fuller by half a 10 MB master, and the files already there stay as they were.
    """
    tmps = tuple(path.with_name(path.name + ".part") for path in paths)
    try:
        yield tmps[0] if len(tmps) == 1 else tmps
    except BaseException:
        for tmp in tmps:
            with suppress(OSError):  # e.g. the name is taken by a directory: the write's own error says more
                tmp.unlink(missing_ok=True)
        raise
    for tmp, path in zip(tmps, paths, strict=True):
        os.replace(tmp, path)


def write_master(folder: Path, image: np.ndarray, meta: PageMeta, fmt: str = "tiff") -> Path:
    """Lossless colour master with its resolution recorded; written to a temporary name, then renamed.

    The files hold RGB where OpenCV holds BGR: the page is turned here. TIFF is written by tifffile,
    Deflate-compressed (Adobe's code 8, which libtiff, Pillow and every archive viewer read) at
    TIFF_DEFLATE_LEVEL by libdeflate through imagecodecs; one thread, as everything per page.
    Pillow cannot set libtiff's Deflate level and its default (6) took 1.4 s a page. Without imagecodecs,
    tifffile falls back to Python's zlib: the same file, about 2.5x slower to write.
    """
    path = master_path(folder, meta, fmt)
    with _atomic(path) as tmp:
        _encode_master(tmp, image, meta, fmt)
    return path


def master_path(folder: Path, meta: PageMeta, fmt: str) -> Path:
    if fmt not in MASTER_FORMATS:
        raise ValueError(f"master format {fmt!r}: one of {MASTER_FORMATS}")
    return folder / f"{stem(meta)}.{'tif' if fmt == 'tiff' else 'png'}"


def _encode_master(tmp: Path, image: np.ndarray, meta: PageMeta, fmt: str) -> None:
    rgb = _rgb(image)
    if fmt == "png":
        Image.fromarray(rgb).save(tmp, format="PNG", dpi=(meta.dpi, meta.dpi), compress_level=1)
    else:
        xmp = _xmp(meta)
        tifffile.imwrite(
            tmp,
            rgb,
            photometric="minisblack" if rgb.ndim == 2 else "rgb",
            compression="adobe_deflate",
            compressionargs={"level": TIFF_DEFLATE_LEVEL},
            resolution=(meta.dpi, meta.dpi),
            resolutionunit="INCH",
            software="storeroom vision",
            datetime=datetime.fromisoformat(meta.captured).strftime("%Y:%m:%d %H:%M:%S"),
            extratags=[
                (269, "s", 0, _ascii(meta.dossier), True),  # DocumentName
                (297, "H", 2, (meta.page, 0), True),  # PageNumber
                (700, "B", len(xmp), xmp, True),  # XMP, as in the access copy: UTF-8, any script
            ],
            metadata=None,  # no tifffile JSON in ImageDescription
            maxworkers=1,
        )


def _exif(meta: PageMeta) -> Image.Exif:
    exif = Image.Exif()
    when = datetime.fromisoformat(meta.captured)
    stamp = when.strftime("%Y:%m:%d %H:%M:%S")
    description = json.dumps(asdict(meta), ensure_ascii=False)
    exif[0x010D] = meta.dossier  # DocumentName
    exif[0x010E] = description  # ImageDescription
    exif[0x0110] = meta.device  # Model
    exif[0x0131] = "storeroom vision"  # Software
    exif[0x0132] = stamp  # DateTime
    exif[0x0129] = (meta.page, 0)  # PageNumber
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = stamp  # DateTimeOriginal
    offset = when.strftime("%z")
    if offset:
        ifd[0x9011] = f"{offset[:3]}:{offset[3:]}"  # OffsetTimeOriginal
    return exif


def _ascii(text: str) -> str:
    """`text` for a TIFF ASCII tag, which must be 7-bit: a code in another script keeps its letters as `\\uXXXX`
    escapes there (the XMP packet beside it carries the code as it is)."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _xmp(meta: PageMeta) -> bytes:
    e = {k: escape(str(v)) for k, v in asdict(meta).items()}
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
        ' xmlns:storeroom="https://storeroom.invalid/ns/vision/1.0/">'
        f"<dc:identifier>{e['dossier']}/{int(meta.page):04d}</dc:identifier>"
        f"<xmp:CreateDate>{e['captured']}</xmp:CreateDate><tiff:Model>{e['device']}</tiff:Model>"
        f"<storeroom:dossier>{e['dossier']}</storeroom:dossier><storeroom:page>{e['page']}</storeroom:page>"
        f"<storeroom:dpi>{e['dpi']}</storeroom:dpi>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def write_access(folder: Path, image: np.ndarray, meta: PageMeta, quality: int = 85) -> Path:
    """Access JPEG with EXIF (ImageDescription holds the metadata as JSON) and an XMP packet.

    `image` as the correction hands it over (BGR, or grey). Encoded by OpenCV's libjpeg-turbo, with the
    header Pillow would write (JFIF with the resolution, EXIF, XMP) put in front of its tables and scan: the
    file is byte for byte Pillow's, in 21 ms instead of 30 for a 300 dpi A4 page (Pillow first turns the
    page into its own 4-byte pixels).
    """
    path = folder / f"{stem(meta)}.jpg"
    with _atomic(path) as tmp:
        _encode_access(tmp, image, meta, quality)
    return path


def _encode_access(tmp: Path, image: np.ndarray, meta: PageMeta, quality: int = 85) -> None:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"the page could not be encoded as JPEG: {image.shape} {image.dtype}")
    tmp.write_bytes(_described(encoded.tobytes(), meta))


def _segment(marker: int, payload: bytes) -> bytes:
    """One JPEG marker segment: FF, the marker, the length (counting itself), the payload."""
    if len(payload) > 0xFFFF - 2:
        raise ValueError(f"JPEG segment {marker:#x} too long: {len(payload)} bytes")
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _described(jpeg: bytes, meta: PageMeta) -> bytes:
    """`jpeg` (start of image, then libjpeg's JFIF segment) with the header Pillow writes: JFIF version 1.01
    with the resolution in dots per inch, then the EXIF and XMP segments (APP1 each)."""
    if jpeg[:4] != b"\xff\xd8\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        raise ValueError("the JPEG encoder did not start with a JFIF header")
    body = jpeg[4 + int.from_bytes(jpeg[4:6], "big") :]  # after libjpeg's JFIF (aspect 1:1, no unit)
    dpi = round(meta.dpi).to_bytes(2, "big")
    jfif = _segment(0xE0, b"JFIF\x00\x01\x01\x01" + dpi + dpi + b"\x00\x00")
    exif = _segment(0xE1, _exif(meta).tobytes())  # Pillow's Exif.tobytes() begins with "Exif\0\0"
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + _xmp(meta))
    return b"\xff\xd8" + jfif + exif + xmp + body


def _encode_bitonal(tmp: Path, image: np.ndarray, meta: PageMeta) -> None:
    Image.fromarray(image).convert("1").save(tmp, format="PNG", dpi=(meta.dpi, meta.dpi))


def write_pdf(folder: Path, dossier: str, jpegs: list[Path]) -> Path:
    """One PDF per dossier from the access JPEGs, embedded as they are (img2pdf does not re-encode)."""
    path = folder / f"{dossier}.pdf"
    with _atomic(path) as tmp:
        tmp.write_bytes(img2pdf.convert([str(p) for p in jpegs]))
    return path


def load_manifest(folder: Path, dossier: str) -> dict:
    path = folder / MANIFEST
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"dossier": dossier, "pages": [], "pdf": None}


def save_manifest(folder: Path, manifest: dict) -> Path:
    """Pages in page order; written to a temporary name then renamed, so a crash never leaves half a file."""
    path = folder / MANIFEST
    with _atomic(path) as tmp:
        _encode_manifest(tmp, manifest)
    return path


def _encode_manifest(tmp: Path, manifest: dict) -> None:
    manifest["pages"].sort(key=lambda p: p["page"])
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def file_entry(path: Path, folder: Path, written: Path | None = None) -> dict:
    """The manifest's entry for `path`; its hash and size are read from `written` when the file is there still
    under its temporary name."""
    data = written or path
    return {"path": path.relative_to(folder).as_posix(), "sha256": sha256_of(data), "bytes": data.stat().st_size}


def page_paths(folder: Path, meta: PageMeta, fmt: str = "tiff", bitonal: bool = False) -> dict[str, Path]:
    """Where a page's files go: the master, the access JPEG and, when asked for, the bitonal copy."""
    paths = {"master": master_path(folder, meta, fmt), "access": folder / f"{stem(meta)}.jpg"}
    if bitonal:
        paths["bitonal"] = folder / f"{stem(meta)}.ocr.png"
    return paths


def encode_page(
    staged: dict[str, Path], master: np.ndarray, meta: PageMeta, fmt: str = "tiff", bitonal: np.ndarray | None = None
) -> None:
    """Encode the page into the files `staged` names (temporary names, see `_atomic`), one per kind."""
    _encode_master(staged["master"], master, meta, fmt)
    _encode_access(staged["access"], master, meta)
    if "bitonal" in staged:
        _encode_bitonal(staged["bitonal"], bitonal, meta)


def write_files(folder: Path, master: np.ndarray, meta: PageMeta, fmt: str = "tiff") -> dict[str, Path]:
    """The page's two image files, the lossless master and the access JPEG, renamed into place together."""
    paths = page_paths(folder, meta, fmt)
    with _atomic(*paths.values()) as staged:
        encode_page(dict(zip(paths, staged, strict=True)), master, meta, fmt)
    return paths


def save_page(
    root: Path,
    meta: PageMeta,
    master: np.ndarray,
    qc: dict,
    extra: dict | None = None,
    bitonal: np.ndarray | None = None,
    fmt: str = "tiff",
) -> dict:
    """Write one page's files under `root/<dossier>/` and record them in the manifest; returns the paths.

    Retaking a page replaces its files and its manifest entry (same number), never another page's. The files
    and the manifest land together, the manifest last, or not at all: a card that fails any of them leaves the
    page as it was, never a new master under the manifest's hash of the old one.
    """
    folder = root / meta.dossier
    folder.mkdir(parents=True, exist_ok=True)
    paths = page_paths(folder, meta, fmt, bitonal is not None)
    with _atomic(*paths.values(), folder / MANIFEST) as (*files, manifest_tmp):
        staged = dict(zip(paths, files, strict=True))
        encode_page(staged, master, meta, fmt, bitonal)
        manifest = load_manifest(folder, meta.dossier)
        manifest["pages"] = [p for p in manifest["pages"] if p["page"] != meta.page]
        manifest["pages"].append(
            {
                "page": meta.page,
                "captured": meta.captured,
                "device": meta.device,
                "dpi": meta.dpi,
                "files": {kind: file_entry(paths[kind], folder, staged[kind]) for kind in paths},
                "qc": qc,
                **(extra or {}),
            }
        )
        _encode_manifest(manifest_tmp, manifest)
    return {kind: str(path) for kind, path in paths.items()}


def finish_dossier(root: Path, dossier: str) -> Path | None:
    """Rebuild the dossier's PDF from its access copies in page order and record it in the manifest.

    For a batch corrected offline (`storeroom vision correct`), whose folder has every page. A copy stand's
    gateway makes no PDF: it removes delivered access copies in time, and the dashboard makes the PDF from
    its own copies of every page (dashboard/dossier_pdf.py).
    """
    folder = root / check_dossier(dossier)
    manifest = load_manifest(folder, dossier)
    jpegs = [folder / p["files"]["access"]["path"] for p in sorted(manifest["pages"], key=lambda p: p["page"])]
    if not jpegs:
        return None
    pdf = write_pdf(folder, dossier, jpegs)
    manifest["pdf"] = {**file_entry(pdf, folder), "pages": len(jpegs)}
    save_manifest(folder, manifest)
    return pdf
