"""`storeroom vision`: one JSON line per photo, clear errors for bad files, and the files it promises."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pikepdf
import pytest
from click.testing import CliRunner
from PIL import Image

from storeroom.cli import main
from vision.standsim import SIZE_12MP, simulate

KEYS = {"input", "outputs", "page_quad", "skew_deg", "turned_deg", "qc", "ms"}  # the issue's, and the turn


def run(*args: str):
    return CliRunner().invoke(main, ["vision", *args])


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i, seed in enumerate((71, 72, 73)):
        path = folder / f"page{i}.jpg"
        path.write_bytes(simulate(seed).jpeg)
        paths.append(path)
    return paths


def correct(out, *inputs, extra=()):
    return run(
        "correct",
        *map(str, inputs),
        "--out",
        str(out),
        "--json",
        "--dossier",
        "A01-0007",
        "--dpi",
        "100",
        "--min-dpi",
        "60",
        *extra,
    )


def test_each_photo_gives_one_json_line_and_the_dossier_its_files(photos, tmp_path):
    result = correct(tmp_path, *photos)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(p) for p in photos]
    for line in lines:
        assert set(line) == KEYS
        assert len(line["page_quad"]) == 4 and all(len(pt) == 2 for pt in line["page_quad"])
        assert line["qc"]["ok"] is True
        for check in line["qc"]["checks"].values():
            assert set(check) == {"ok", "value", "limit"}
    folder = tmp_path / "A01-0007"
    assert sorted(p.name for p in folder.glob("*.tif")) == ["0001.tif", "0002.tif", "0003.tif"]

    manifest = json.loads((folder / "manifest.json").read_text())
    assert [p["page"] for p in manifest["pages"]] == [1, 2, 3]
    for page in manifest["pages"]:
        for entry in page["files"].values():
            assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
        assert page["qc"]["ok"]
    assert hashlib.sha256((folder / "A01-0007.pdf").read_bytes()).hexdigest() == manifest["pdf"]["sha256"]
    with pikepdf.open(folder / "A01-0007.pdf") as pdf:
        assert len(pdf.pages) == 3

    with Image.open(folder / "0002.jpg") as jpeg:
        described = json.loads(jpeg.getexif()[0x010E])
        assert described["dossier"] == "A01-0007" and described["page"] == 2 and described["dpi"] == 100
        assert jpeg.info["dpi"] == (100, 100)
        assert b"A01-0007/0002" in jpeg.info["xmp"]
    with Image.open(folder / "0002.tif") as tiff:
        assert tiff.mode == "RGB" and round(tiff.info["dpi"][0]) == 100
        assert tiff.tag_v2[259] == 8  # Deflate (Adobe), which every TIFF reader knows
        assert tiff.tag_v2[269] == "A01-0007" and tiff.tag_v2[297] == (2, 0)  # DocumentName, PageNumber


def test_a_page_laid_upside_down_is_turned_upright_unless_asked_to_keep_it_as_laid(tmp_path):
    shot = simulate(3, faults=("upside_down",), size=SIZE_12MP)
    photo = tmp_path / "upside-down.jpg"
    photo.write_bytes(shot.jpeg)
    truth = np.array(shot.truth["page_quad"])  # from the printed page's top-left: the paper's bottom-right
    (turned,) = (
        json.loads(line)
        for line in run("correct", str(photo), "--out", str(tmp_path / "a"), "--json").stdout.splitlines()
    )
    assert turned["turned_deg"] == 180 and np.abs(np.array(turned["page_quad"]) - truth).max() < 6
    (entry,) = json.loads((tmp_path / "a" / "UNFILED" / "manifest.json").read_text())["pages"]
    assert entry["turned_deg"] == 180 and entry["orientation"]["turn_deg"] == 180
    run_as_laid = run("correct", str(photo), "--out", str(tmp_path / "b"), "--json", "--as-laid")
    (as_laid,) = (json.loads(line) for line in run_as_laid.stdout.splitlines())
    assert as_laid["turned_deg"] == 0 and np.abs(np.array(as_laid["page_quad"]) - np.roll(truth, 2, 0)).max() < 6


def test_a_png_master_can_still_be_asked_for(photos, tmp_path):
    result = correct(tmp_path, photos[0], extra=("--master", "png"))
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "A01-0007" / "0001.png") as png:
        assert png.mode == "RGB" and round(png.info["dpi"][0]) == 100


def test_bad_files_are_named_once_and_the_good_ones_still_done(photos, tmp_path):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photos[0].read_bytes()[:20_000])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not a photo")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    missing = tmp_path / "missing.jpg"
    bad = [truncated, empty, text, corrupt, missing]
    result = correct(tmp_path / "out", photos[0], *bad, photos[1])
    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert len(errors) == len(bad)
    for path, line in zip(bad, errors, strict=True):
        assert str(path) in line
    assert [json.loads(line)["input"] for line in result.stdout.splitlines()] == [str(photos[0]), str(photos[1])]


def test_no_page_gives_no_files_and_says_why(tmp_path):
    empty_stand = tmp_path / "stand.jpg"
    empty_stand.write_bytes(simulate(5, faults=("no_page",)).jpeg)
    result = correct(tmp_path / "out", empty_stand)
    assert result.exit_code == 0
    line = json.loads(result.stdout)
    assert line["outputs"] == {} and line["page_quad"] is None
    assert line["qc"]["ok"] is False and line["qc"]["checks"]["no_page"]["ok"] is False


def test_unsafe_dossier_code_is_refused(photos, tmp_path):
    result = run("correct", str(photos[0]), "--out", str(tmp_path), "--dossier", "../etc")
    assert result.exit_code == 2 and "dossier code" in result.output


def test_simulate_writes_photos_with_ground_truth(tmp_path):
    result = run("simulate", "--out", str(tmp_path), "--count", "3", "--seed", "4")
    assert result.exit_code == 0, result.output
    truths = sorted(tmp_path.glob("sim-*.json"))
    assert len(truths) == 3 and len(list(tmp_path.glob("sim-*.jpg"))) == 3
    assert {"page_quad", "faults", "text_skew_deg"} <= set(json.loads(truths[0].read_text()))
