"""A PDF of JPEG pages written one page at a time: read back with pikepdf, checked by qpdf, beside img2pdf's."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import img2pdf
import numpy as np
import pikepdf
import pytest
from PIL import Image

from dashboard import jpeg_pdf


def jpeg(folder: Path, name: str, size: tuple[int, int], dpi: int | None, grey: bool = False) -> Path:
    rng = np.random.default_rng(len(name))
    pixels = rng.integers(0, 255, (size[1], size[0]) if grey else (size[1], size[0], 3), dtype=np.uint8)
    path = folder / name
    Image.fromarray(pixels).save(path, "JPEG", quality=80, **({"dpi": (dpi, dpi)} if dpi else {}))
    return path


def written(paths: list[Path], title: str = "DA-2026-00001") -> bytes:
    out = io.BytesIO()
    jpeg_pdf.write(out, iter(paths), len(paths), title=title, producer="storeroom dashboard")
    return out.getvalue()


def test_each_page_embeds_its_jpeg_as_it_is_at_the_size_its_dpi_gives(tmp_path):
    pages = [
        jpeg(tmp_path, "1.jpg", (620, 877), 75),  # an A4 page at 75 dpi
        jpeg(tmp_path, "2.jpg", (300, 200), 150, grey=True),
        jpeg(tmp_path, "3.jpg", (96, 48), None),  # no resolution: 96 dpi, as img2pdf takes it
    ]
    with pikepdf.open(io.BytesIO(written(pages))) as pdf:
        assert pdf.check_pdf_syntax() == []  # qpdf's own checks: structure, cross-reference table, streams
        assert len(pdf.pages) == 3
        for page, path in zip(pdf.pages, pages, strict=True):
            image = next(iter(page.Resources.XObject.values()))
            assert image.read_raw_bytes() == path.read_bytes()
            assert image.Filter == pikepdf.Name.DCTDecode
        assert [round(float(v)) for v in pdf.pages[0].MediaBox] == [0, 0, 595, 842]
        assert [float(v) for v in pdf.pages[1].MediaBox] == [0, 0, 144, 96]
        assert [float(v) for v in pdf.pages[2].MediaBox] == [0, 0, 72, 36]
        assert pdf.pages[1].Resources.XObject.Im0.ColorSpace == pikepdf.Name.DeviceGray


def test_pages_come_out_as_img2pdf_makes_them(tmp_path):
    pages = [jpeg(tmp_path, f"{n}.jpg", (400 + n, 300), 100 + 50 * n) for n in range(3)]
    theirs = pikepdf.open(io.BytesIO(img2pdf.convert([str(p) for p in pages])))
    ours = pikepdf.open(io.BytesIO(written(pages)))
    for a, b in zip(ours.pages, theirs.pages, strict=True):
        assert [float(v) for v in a.MediaBox] == pytest.approx([float(v) for v in b.MediaBox], abs=1e-3)
        image_a, image_b = (next(iter(p.Resources.XObject.values())) for p in (a, b))
        assert image_a.read_raw_bytes() == image_b.read_raw_bytes()
        assert (image_a.Width, image_a.Height, image_a.ColorSpace) == (
            image_b.Width,
            image_b.Height,
            image_b.ColorSpace,
        )


def test_the_title_keeps_any_script_and_the_same_pages_give_the_same_bytes(tmp_path):
    pages = [jpeg(tmp_path, "1.jpg", (64, 64), 300)]
    first = written(pages, title="张三的档案 DA-2026-00001")
    assert written(pages, title="张三的档案 DA-2026-00001") == first
    with pikepdf.open(io.BytesIO(first)) as pdf:
        assert str(pdf.docinfo.Title) == "张三的档案 DA-2026-00001"
        assert str(pdf.docinfo.Producer) == "storeroom dashboard"


def test_a_file_that_is_not_a_readable_jpeg_is_named(tmp_path):
    png = tmp_path / "page.png"
    cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    for bad, says in ((png, "page.png is PNG, not a JPEG"), (broken, "broken.jpg is not a readable JPEG")):
        with pytest.raises(ValueError, match=says):
            written([bad])


def test_the_page_count_announced_must_be_the_pages_given(tmp_path):
    pages = [jpeg(tmp_path, f"{n}.jpg", (32, 32), 72) for n in range(2)]
    with pytest.raises(ValueError, match="2 pages, not the 3 announced"):
        jpeg_pdf.write(io.BytesIO(), iter(pages), 3, title="t", producer="p")
    with pytest.raises(ValueError, match="more than the 1 pages announced"):
        jpeg_pdf.write(io.BytesIO(), iter(pages), 1, title="t", producer="p")
    with pytest.raises(ValueError, match="at least one page"):
        jpeg_pdf.write(io.BytesIO(), iter([]), 0, title="t", producer="p")
