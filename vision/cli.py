"""`storeroom vision`: correct stand photos into a dossier's page files, and make simulated photos."""

from __future__ import annotations

import json
import socket
import sys
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import click
import cv2
import numpy as np

from vision import outputs, quality
from vision.photo import PhotoError, read_photo
from vision.pipeline import Hints, correct, upright

CHECK_KEYS = ("ok", "value", "limit")


def _page_size(value: str) -> str | tuple[float, float]:
    """A name (A4, 16K, ...) or WIDTHxHEIGHT in millimetres."""
    if "x" in value.lower():
        try:
            w, h = (float(v) for v in value.lower().split("x"))
        except ValueError:
            raise click.BadParameter(f"{value!r}: a name such as A4, or WIDTHxHEIGHT in mm") from None
        return (w, h)
    return value


def _record(path: Path, result, files: dict, ms: float) -> dict:
    """The issue's JSON line for one input."""
    checks = {name: {k: c[k] for k in CHECK_KEYS} for name, c in result.qc["checks"].items()}
    return {
        "input": str(path),
        "outputs": files,
        "page_quad": result.page_quad,
        "skew_deg": result.skew_deg,
        "turned_deg": result.turned_deg,
        "qc": {"ok": result.qc["ok"], "checks": checks},
        "ms": round(ms, 1),
    }


def _human(record: dict, qc: dict) -> str:
    master = record["outputs"].get("master", "no page written")
    if qc["ok"]:
        return f"{record['input']}: ok -> {master}"
    bad = [
        f"{name} {c['value']:g} (limit {c['limit']:g}): {c['reason']}"
        for name, c in qc["checks"].items()
        if not c["ok"]
    ]
    return f"{record['input']}: RETAKE -> {master}; " + "; ".join(bad)


@click.group()
def vision() -> None:
    """Copy stand: correct page photos into dossier page files, with quality checks."""


@vision.command("correct")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@click.option("--dossier", default="UNFILED", show_default=True, help="Dossier code: files go to OUT/CODE/.")
@click.option("--first-page", type=click.IntRange(1, 9999), help="Number of the first input [next after the manifest].")
@click.option("--page-size", default="A4", show_default=True, help="A4, A5, B5, 16K, ... or WIDTHxHEIGHT mm.")
@click.option("--px-per-mm", type=click.FloatRange(min=0, min_open=True), help="Stand calibration instead of a size.")
@click.option("--dpi", type=click.FloatRange(50, 1200), default=300, show_default=True, help="Master resolution.")
@click.option(
    "--min-dpi",
    type=click.FloatRange(1, 1200),
    default=200,
    show_default=True,
    help="Resolution the photo must really hold on the page (DA/T 31-2017: 200).",
)
@click.option(
    "--master",
    "master_format",
    type=click.Choice(outputs.MASTER_FORMATS),
    default="tiff",
    show_default=True,
    help="Lossless master: Deflate TIFF (DA/T 31-2017 names TIFF) or PNG.",
)
@click.option("--bitonal", is_flag=True, help="Also write a black-and-white copy for OCR.")
@click.option(
    "--upright/--as-laid",
    "turn_upright",
    default=True,
    show_default=True,
    help="Turn pages laid upside down or sideways upright (Tesseract's orientation detection).",
)
@click.option("--device", default=lambda: f"copy stand on {socket.gethostname()}", help="Recorded in each file.")
def correct_command(
    images: tuple[Path, ...],
    out: Path,
    as_json: bool,
    dossier: str,
    first_page: int | None,
    page_size: str,
    px_per_mm: float | None,
    dpi: float,
    min_dpi: float,
    master_format: str,
    bitonal: bool,
    turn_upright: bool,
    device: str,
) -> None:
    """Correct IMAGES (in page order) into OUT/DOSSIER/: master, access JPEG, manifest and the dossier's PDF.

    skew_deg in the output is the text's skew on the flattened page, which the master has undone; turned_deg
    how far the page was turned clockwise to stand upright (page_quad starts at its top-left). A file
    that cannot be read is named on stderr and the command exits with 2 after doing all the others.
    """
    try:
        outputs.check_dossier(dossier)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dossier") from None
    size = None if px_per_mm and page_size == "A4" else _page_size(page_size)
    manifest = outputs.load_manifest(out / dossier, dossier)
    pages = manifest["pages"]
    number = first_page or (max((p["page"] for p in pages), default=0) + 1)
    prev_hash = quality.hash_from_hex(pages[-1].get("phash")) if pages else None
    limits = quality.Limits(resolution_dpi=min_dpi)
    failed = 0
    wrote = False
    show_bar = sys.stderr.isatty() and not as_json and len(images) > 1
    with click.progressbar(images, label="correcting", file=sys.stderr) if show_bar else nullcontext(images) as items:
        for path in items:
            start = time.perf_counter()
            try:
                photo = read_photo(path)
            except PhotoError as exc:
                click.echo(f"error: {exc}", err=True)
                failed += 1
                continue
            hints = Hints(
                page_size=size, px_per_mm=px_per_mm, dpi=dpi, bitonal=bitonal, previous_hash=prev_hash, limits=limits
            )
            try:
                result = correct(photo, hints)
                if turn_upright:
                    result = upright(result)
            except (ValueError, cv2.error) as exc:  # a photo OpenCV cannot work with: name it, go on
                click.echo(f"error: {path}: {exc}", err=True)
                failed += 1
                continue
            files: dict = {}
            if result.master is not None:
                meta = outputs.PageMeta(
                    dossier, number, datetime.now().astimezone().isoformat(timespec="seconds"), device, dpi
                )
                extra = {"input": path.name, **result.described(), "phash": quality.hash_hex(result.page_hash)}
                files = outputs.save_page(out, meta, result.master, result.qc, extra, result.bitonal, master_format)
                files["manifest"] = str(out / dossier / "manifest.json")
                files["pdf"] = str(out / dossier / f"{dossier}.pdf")
                number += 1
                prev_hash = result.page_hash
                wrote = True
            record = _record(path, result, files, (time.perf_counter() - start) * 1000)
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else _human(record, result.qc))
    if wrote:
        outputs.finish_dossier(out, dossier)
    if failed:
        sys.exit(2)


@vision.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", type=click.Choice(["2mp", "12mp"]), default="2mp", show_default=True)
@click.option("--faults/--no-faults", default=True, show_default=True, help="Mix in bad shots (about one in three).")
def simulate(out: Path, count: int, seed: int, size: str, faults: bool) -> None:
    """Write simulated copy-stand photos (sim-NNNN.jpg) and their ground truth (sim-NNNN.json)."""
    from vision import standsim

    out.mkdir(parents=True, exist_ok=True)
    frame = standsim.SIZE_2MP if size == "2mp" else standsim.SIZE_12MP
    rng = np.random.default_rng(seed)
    for i in range(count):
        fault = ()
        if faults and rng.random() < 1 / 3:
            fault = (str(rng.choice(standsim.FAULTS)),)
        shot = standsim.simulate(seed * 100_000 + i, size=frame, faults=fault)
        (out / f"sim-{i:04d}.jpg").write_bytes(shot.jpeg)
        (out / f"sim-{i:04d}.json").write_text(json.dumps(shot.truth, indent=2) + "\n", encoding="utf-8")
        click.echo(f"{out / f'sim-{i:04d}.jpg'} {','.join(shot.truth['faults']) or 'good'}")
