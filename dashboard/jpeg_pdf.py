"""A PDF whose pages are JPEG files, embedded as they are, written one page at a time.

Why not img2pdf, which the gateway's CLI uses: img2pdf (with either of its engines) and pikepdf hold every
page's JPEG in memory until the PDF is written, 641 MB for a 300-page dossier of 2 MB access copies
(bench/dossier_pdf.py), and the dashboard may run on a small server. A PDF of JPEG pages needs only a few
objects per page (the page, its image with the JPEG as a DCTDecode stream, a content stream drawing it), so
this writes each page's objects and lets the JPEG go before reading the next: one page in memory at a time.
The result is the same kind of file img2pdf makes (PDF 1.4, no re-encoding, a page the JPEG's size at its
dpi); the tests read it back with pikepdf and qpdf's checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from PIL import Image

COLOUR_SPACES = {"RGB": b"/DeviceRGB", "L": b"/DeviceGray"}
"""What the copy stand writes (colour, or grey): a CMYK JPEG's inversion conventions are not handled here."""
DEFAULT_DPI = 96.0
"""The page size of a JPEG that does not say its resolution (img2pdf's default too)."""
FIRST_PAGE_OBJECT = 4
"""Objects 1-3 are the catalogue, the page tree and the document's information; then three per page."""


def _text(value: str) -> bytes:
    """A PDF string: UTF-16 with its byte-order mark, so any script (a title in Chinese) survives."""
    return b"<" + ("\ufeff" + value).encode("utf-16-be").hex().encode("ascii") + b">"


class _Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.written = 0

    def raw(self, data: bytes) -> None:
        self.out.write(data)
        self.written += len(data)

    def obj(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.written
        self.raw(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self.raw(b"\nstream\n" + stream + b"\nendstream")
        self.raw(b"\nendobj\n")


def write(out: BinaryIO, jpegs: Iterable[Path], count: int, *, title: str, producer: str) -> None:
    """Write a PDF of `count` pages, one per JPEG of `jpegs`, in their order, to `out`.

    `count` comes first because the page tree lists its pages before them (object numbers are fixed by page
    number, so it can). A JPEG Pillow cannot read, or a count that does not match, raises ValueError.
    """
    if count < 1:
        raise ValueError("a PDF needs at least one page")
    pdf = _Writer(out)
    pdf.raw(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the second line marks the file as binary
    kids = b" ".join(b"%d 0 R" % (FIRST_PAGE_OBJECT + 3 * i) for i in range(count))
    pdf.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    pdf.obj(2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count)
    pdf.obj(3, b"<< /Title " + _text(title) + b" /Producer " + _text(producer) + b" >>")
    made = 0
    for i, path in enumerate(jpegs):
        if i >= count:
            raise ValueError(f"more than the {count} pages announced")
        _page(pdf, FIRST_PAGE_OBJECT + 3 * i, path)
        made += 1
    if made != count:
        raise ValueError(f"{made} pages, not the {count} announced")
    xref = pdf.written
    size = FIRST_PAGE_OBJECT + 3 * count
    pdf.raw(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        pdf.raw(b"%010d 00000 n \n" % pdf.offsets[number])
    pdf.raw(b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))


def _page(pdf: _Writer, number: int, path: Path) -> None:
    """One page: the page object, the JPEG as an image XObject, and the content stream that draws it."""
    try:
        with Image.open(path) as image:  # reads the header only: size, mode, resolution
            if image.format != "JPEG":
                raise ValueError(f"{path.name} is {image.format}, not a JPEG")
            (width, height), mode = image.size, image.mode
            dpi_x, dpi_y = (float(d) or DEFAULT_DPI for d in image.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI)))
    except OSError as exc:
        raise ValueError(f"{path.name} is not a readable JPEG: {exc}") from exc
    if mode not in COLOUR_SPACES:
        raise ValueError(f"{path.name} is a {mode} JPEG; colour (RGB) or grey only")
    w_pt, h_pt = width * 72 / dpi_x, height * 72 / dpi_y
    draw = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
    pdf.obj(
        number,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] " % (w_pt, h_pt)
        + b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (number + 1, number + 2),
    )
    jpeg = path.read_bytes()
    pdf.obj(
        number + 1,
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
        % (width, height, COLOUR_SPACES[mode])
        + b"/Filter /DCTDecode /Length %d >>" % len(jpeg),
        jpeg,
    )
    pdf.obj(number + 2, b"<< /Length %d >>" % len(draw), draw)
