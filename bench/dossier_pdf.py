"""What the dashboard's dossier PDF costs: memory and time to make it from the pages' access copies.

A personnel dossier may have 300 pages; an access JPEG of a 300 dpi A4 page is 1-2 MB. The dashboard
makes the PDF with `dashboard.dossier_pdf.kept_pdf`, which writes it one page at a time (dashboard/jpeg_pdf.py).
Peers, each making the same PDF from the same files:

- `img2pdf`: img2pdf's own engine written to a file, how the dashboard made it before: every page's JPEG
  in memory until the PDF is written;
- `to_bytes`: `img2pdf.convert` returning the PDF as bytes, then written out (how vision/outputs.py's
  `write_pdf` does it for the CLI): the PDF is in memory as the pages read and again as one string;
- `pikepdf`: img2pdf's default engine when pikepdf is installed, written to a file.

Each run is a fresh process; the measure is its peak resident size (Linux's VmHWM, reset once everything
is imported) above its resident size then: `extra_mb`; `vs_jpeg` is that over the JPEGs' total size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PAGES = int(os.environ.get("BENCH_PDF_PAGES", "300"))
DISTINCT = 20
"""Distinct JPEGs made (the rest are copies): making 300 takes longer than the measure itself."""

CHILD = r"""
import json, sys, time
from pathlib import Path
import img2pdf
from dashboard import dossier_pdf

def status(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":"))
    return int(line.split()[1]) / 1024

how, folder = sys.argv[1], Path(sys.argv[2])
jpegs = sorted(folder.glob("*.jpg"))
Path("/proc/self/clear_refs").write_text("5")  # the peak starts afresh here (not the forking parent's)
idle = status("VmRSS")
start = time.perf_counter()
out = folder / "out" / f"{how}.pdf"
out.parent.mkdir(exist_ok=True)
if how == "ours":
    contents = dossier_pdf.Contents(tuple(range(1, len(jpegs) + 1)), tuple(p.name for p in jpegs), ())
    out = dossier_pdf.kept_pdf(folder / "out", "BENCH-0001", contents, lambda name: folder / name)
elif how == "img2pdf":
    with out.open("wb") as f:
        img2pdf.convert([str(p) for p in jpegs], outputstream=f, engine=img2pdf.Engine.internal)
elif how == "to_bytes":
    out.write_bytes(img2pdf.convert([str(p) for p in jpegs]))
else:
    with out.open("wb") as f:
        img2pdf.convert([str(p) for p in jpegs], outputstream=f, engine=img2pdf.Engine.pikepdf)
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"idle_mb": idle, "peak_mb": peak, "s": seconds, "pdf_mb": out.stat().st_size / 2**20}))
"""


def _jpegs(folder: Path) -> float:
    """PAGES access-copy-sized JPEGs (A4 at 300 dpi, mottled like a photographed page); their total MB."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    made = []
    for i in range(DISTINCT):
        paper = rng.normal(225, 12, (3508, 2480, 3)).clip(0, 255).astype(np.uint8)
        path = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(path), paper, [cv2.IMWRITE_JPEG_QUALITY, 85])
        made.append(path.read_bytes())
    for i in range(DISTINCT, PAGES):
        (folder / f"{i:04d}.jpg").write_bytes(made[i % DISTINCT])
    return sum(p.stat().st_size for p in folder.glob("*.jpg")) / 2**20


def _measure(how: str, folder: Path) -> dict:
    answer = subprocess.run(
        [sys.executable, "-c", CHILD, how, str(folder)], capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(answer.stdout)


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jpeg_mb = _jpegs(folder)
        result: dict = {"pages": PAGES, "jpeg_mb": round(jpeg_mb, 1)}
        for how in ("ours", "img2pdf", "to_bytes", "pikepdf"):
            m = _measure(how, folder)
            extra = m["peak_mb"] - m["idle_mb"]
            result[how] = {
                "seconds": round(m["s"], 2),
                "pdf_mb": round(m["pdf_mb"], 1),
                "extra_mb": round(extra, 1),
                "vs_jpeg": round(extra / jpeg_mb, 3),
            }
        for peer in ("img2pdf", "to_bytes", "pikepdf"):
            result[f"memory_vs_{peer}"] = round(result["ours"]["extra_mb"] / result[peer]["extra_mb"], 3)
        return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
