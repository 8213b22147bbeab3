"""Dossier pages for the upload tests, made the way the copy stand makes them: a simulated stand photo,
corrected by the pipeline, written by vision/outputs.py (small: 2 MP photos, 150 dpi masters)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from vision import outputs, standsim
from vision.pipeline import Hints, correct

DOSSIER = "A01-0001"


def make_page(root: Path, dossier: str, number: int, *, seed: int, faults: tuple[str, ...] = ()) -> dict:
    """One page saved under root/dossier; returns its manifest entry."""
    shot = standsim.simulate(seed, size=standsim.SIZE_2MP, faults=faults)
    result = correct(shot.image, Hints(dpi=150, limits=standsim_limits()))
    assert result.master is not None, "the simulated page was found"
    captured = datetime(2026, 11, 23, 9, 0, number, tzinfo=UTC).isoformat()
    meta = outputs.PageMeta(dossier, number, captured, "test stand", 150.0)
    outputs.save_page(root, meta, result.master, result.qc)
    return entry(root, dossier, number)


def standsim_limits():
    from vision.quality import Limits

    return Limits(resolution_dpi=75)  # a 2 MP photo of an A4 page on the stand holds about 80 dpi


def entry(root: Path, dossier: str, number: int) -> dict:
    manifest = json.loads((root / dossier / "manifest.json").read_text(encoding="utf-8"))
    return next(p for p in manifest["pages"] if p["page"] == number)


def copy_dossier(source: Path, target: Path) -> Path:
    """A fresh copy of a made dossier folder tree (making pages is the slow part: make once, copy per test)."""
    shutil.copytree(source, target)
    return target
