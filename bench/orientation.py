"""Which way up: pages laid upright, sideways and upside down on the simulated stand, turned back by `upright`.

Each good 12 MP shot (the HQ camera's photo, where the stand turns pages) is corrected as it is and with the
whole photo turned by each quarter, which is the page laid turned under the camera; the ground truth says
which turn puts it upright. Counted per turn: pages turned right, pages turned WRONG (the failure that
matters: a page filed upside down that was upright), and pages kept as laid because Tesseract was unsure or
found too little text. Time is `upright` alone, single thread, on top of `correct`; the second look (see
vision/orientation.py) is counted, since it doubles a page's time.
"""

from __future__ import annotations

import os
import time

import cv2
import numpy as np

from vision import orientation, standsim
from vision.pipeline import QUARTER_TURNS, Hints, correct, upright

N_SHOTS = int(os.environ.get("BENCH_ORIENTATION_SHOTS", "15"))
LAID = {0: None, **QUARTER_TURNS}  # how far the page lies turned clockwise, and the photo's turn for it


def run() -> dict:
    cv2.setNumThreads(1)
    counts = {laid: {"right": 0, "wrong": 0, "kept_as_laid": 0} for laid in LAID}
    confidences, times, second_looks = [], [], 0
    for i in range(N_SHOTS):
        shot = standsim.simulate(60_000 + i, size=standsim.SIZE_12MP)
        for laid, code in LAID.items():
            photo = shot.image if code is None else cv2.rotate(shot.image, code)
            result = correct(photo, Hints())
            if result.master is None:
                continue
            start = time.perf_counter()
            turned = upright(result)
            times.append(1000 * (time.perf_counter() - start))
            found = turned.orientation
            second_looks += int(found is not None and found.second_look)
            if found is None or found.confidence < orientation.MIN_CONFIDENCE:
                counts[laid]["kept_as_laid"] += 1  # unsure: as laid, right or not
            elif found.turn_deg == (360 - laid) % 360:
                counts[laid]["right"] += 1
                confidences.append(found.confidence)
            else:
                counts[laid]["wrong"] += 1
    total = sum(sum(c.values()) for c in counts.values())
    return {
        "shots": N_SHOTS,
        "pages": total,
        "by_turn_laid_deg": {str(k): v for k, v in counts.items()},
        "right_rate": round(sum(c["right"] for c in counts.values()) / total, 4),
        "wrong_rate": round(sum(c["wrong"] for c in counts.values()) / total, 4),
        "confidence_when_right": {
            "min": round(min(confidences), 2),
            "p5": round(float(np.percentile(confidences, 5)), 2),
            "median": round(float(np.median(confidences)), 2),
        },
        "min_confidence": orientation.MIN_CONFIDENCE,
        "second_looks": second_looks,
        "ms_per_page": {
            "median": round(float(np.median(times)), 1),
            "p95": round(float(np.percentile(times, 95)), 1),
            "max": round(float(max(times)), 1),
        },
        "threads": 1,
    }
