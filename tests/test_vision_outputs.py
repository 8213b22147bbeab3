"""A page's master is lossless in every format offered: what is read back is exactly what was corrected."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.support import full_card
from vision import outputs
from vision.standsim import simulate

META = outputs.PageMeta("A01-0007", 12, "2026-03-01T09:30:00+08:00", "copy stand test", 300)


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    """A photographed page, noise and all (BGR, as the correction hands it over)."""
    return simulate(5).image[200:900, 300:1100].copy()


@pytest.mark.parametrize("fmt", outputs.MASTER_FORMATS)
def test_the_master_reads_back_pixel_for_pixel_with_its_resolution(fmt, page, tmp_path):
    path = outputs.write_master(tmp_path, page, META, fmt)
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image), page[..., ::-1])  # RGB in the file
        assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)


def test_a_grey_master_stays_grey_and_lossless(page, tmp_path):
    grey = np.ascontiguousarray(page[..., 1])
    path = outputs.write_master(tmp_path, grey, META, "tiff")
    assert np.array_equal(tifffile.imread(path), grey)


def test_the_tiff_master_names_its_dossier_page_and_time(page, tmp_path):
    path = outputs.write_master(tmp_path, page, META, "tiff")
    assert path.name == "0012.tif"
    with Image.open(path) as image:
        tags = image.tag_v2
        assert tags[259] == 8  # Deflate (Adobe's code, the one libtiff and archive viewers read)
        assert tags[269] == "A01-0007" and tags[297] == (12, 0)  # DocumentName, PageNumber
        assert tags[306] == "2026:03:01 09:30:00" and tags[305] == "storeroom vision"


def test_an_unknown_master_format_is_refused_by_name(page, tmp_path):
    with pytest.raises(ValueError, match="'jp2'"):
        outputs.write_master(tmp_path, page, META, "jp2")


def test_the_master_and_access_copy_are_the_same_page(page, tmp_path):
    files = outputs.save_page(tmp_path, META, page, {"ok": True})
    with Image.open(files["master"]) as master, Image.open(files["access"]) as access:
        a = np.asarray(master).astype(int)
        b = np.asarray(access).astype(int)
    assert a.shape == b.shape and np.abs(a - b).mean() < 4  # JPEG at quality 85, in the same channel order


@pytest.mark.parametrize(("fmt", "suffix"), [("tiff", "tif"), ("png", "png")])
def test_a_page_that_cannot_be_written_leaves_no_half_written_file_behind(fmt, suffix, page, tmp_path):
    folder = tmp_path / META.dossier
    folder.mkdir()
    (folder / f"0012.{suffix}.part").symlink_to("/dev/full")  # the card is full: every write fails with ENOSPC
    with pytest.raises(OSError) as full:
        outputs.save_page(tmp_path, META, page, {"ok": True}, fmt=fmt)
    assert full.value.errno == errno.ENOSPC
    assert list(folder.iterdir()) == [], "no half-written master filling the card, no manifest naming the page"


@pytest.mark.parametrize("failing", ["0012.tif", "0012.jpg", "0012.ocr.png", "manifest.json"])
def test_a_retake_whose_files_cannot_all_be_written_leaves_the_page_as_it_was(failing, page, tmp_path):
    """A page's files land together or not at all: never a new master beside the old access copy and a
    manifest naming neither (the uploader would find the master's hash changed and refuse it)."""
    folder = tmp_path / META.dossier
    outputs.save_page(tmp_path, META, page, {"ok": False}, bitonal=page[..., 1] > 128)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    full_card(folder, failing)
    with pytest.raises(OSError):
        outputs.save_page(tmp_path, META, 255 - page, {"ok": True}, bitonal=page[..., 1] < 128)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_without_imagecodecs_the_tiff_master_is_still_written_and_lossless(page, tmp_path):
    """32-bit Raspberry Pi OS has no imagecodecs wheel: tifffile then compresses with Python's own zlib."""
    np.save(tmp_path / "page.npy", page)
    script = (
        "import sys; sys.modules['imagecodecs'] = None\n"  # as if it were not installed
        "import numpy as np, pathlib\n"
        "from vision import outputs\n"
        "folder = pathlib.Path(sys.argv[1])\n"
        "meta = outputs.PageMeta('A01-0007', 1, '2026-03-01T09:30:00+08:00', 'test', 300)\n"
        "print(outputs.write_master(folder, np.load(folder / 'page.npy'), meta, 'tiff'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
    with Image.open(done.stdout.strip()) as image:
        assert image.tag_v2[259] == 8 and np.array_equal(np.asarray(image), page[..., ::-1])


def test_a_dossier_code_in_chinese_is_kept_whole_in_the_tiff_masters_xmp(page, tmp_path):
    meta = outputs.PageMeta("档案-2026-0001", 3, "2026-03-01T09:30:00+08:00", "copy stand test", 300)
    files = outputs.save_page(tmp_path, meta, page, {"ok": True})  # TIFF's ASCII tags cannot hold it as it is
    with Image.open(files["master"]) as image:
        assert np.array_equal(np.asarray(image), page[..., ::-1])
        assert image.tag_v2[269] == "\\u6863\\u6848-2026-0001"  # DocumentName, escaped to 7 bits
        xmp = bytes(image.tag_v2[700]).decode("utf-8")
    assert "<storeroom:dossier>档案-2026-0001</storeroom:dossier>" in xmp
    assert "<dc:identifier>档案-2026-0001/0003</dc:identifier>" in xmp


def test_the_access_jpeg_says_which_dossier_and_page_it_is_as_pillow_would_write_it(page, tmp_path):
    path = outputs.write_access(tmp_path, page, META)
    with Image.open(path) as jpeg:
        assert jpeg.info["dpi"] == (300, 300) and jpeg.info["jfif_version"] == (1, 1)
        described = json.loads(jpeg.getexif()[0x010E])  # ImageDescription
        assert described["dossier"] == "A01-0007" and described["page"] == 12
        assert jpeg.getexif()[0x010D] == "A01-0007" and jpeg.getexif()[0x0129] == (12, 0)
        assert b"<dc:identifier>A01-0007/0012</dc:identifier>" in jpeg.info["xmp"]
        pixels = np.asarray(jpeg).astype(int)
    # The same header segments, in the same order, as Pillow's own writer puts before the image data.
    reference = io.BytesIO()
    Image.fromarray(page[..., ::-1]).save(
        reference, format="JPEG", quality=85, dpi=(300, 300), exif=outputs._exif(META), xmp=outputs._xmp(META)
    )
    ours, pillows = path.read_bytes(), reference.getvalue()
    assert ours[: ours.index(b"\xff\xdb")] == pillows[: pillows.index(b"\xff\xdb")]
    assert np.abs(pixels - page[..., ::-1]).mean() < 4  # quality 85, RGB in the file


def test_a_grey_access_copy_is_a_grey_jpeg(page, tmp_path):
    path = outputs.write_access(tmp_path, np.ascontiguousarray(page[..., 1]), META)
    with Image.open(path) as jpeg:
        assert jpeg.mode == "L" and jpeg.info["dpi"] == (300, 300)
