"""How far apart the duplicate check holds the same page shot again and two different pages.

The copy stand refuses a shot whose page hash is within `Limits.duplicate` of the previous page's: the keeper
shot the page just taken instead of turning it. A different page refused that way cannot be kept at all, so
the limit must sit well above what a reshot page differs by and well below what different pages differ by.
Each of PAGES generated pages (forms, letters, photos: the simulated stand's mix) is shot twice, at different
places on the stand, under different light, on either stand; every pair of different pages is compared too.
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np

from vision import quality
from vision.pipeline import Hints, correct
from vision.standsim import simulate

PAGES = int(os.environ.get("BENCH_PAGE_HASH_PAGES", "60"))
SIZE = (2400, 1800)  # an A6 page at over 200 dpi, as a 12 MP photo gives an A4 one, in a fraction of the time


def run() -> dict:
    started = time.perf_counter()
    hints = Hints(page_size="A6")
    hashes: dict[int, list[np.ndarray]] = {}
    for page in range(1, PAGES + 1):
        for placement in (page, 100_000 + page):
            digest = correct(simulate(placement, size=SIZE, page_seed=page).image, hints).page_hash
            if digest is not None:
                hashes.setdefault(page, []).append(digest)
    shot_twice = [h for h in hashes.values() if len(h) == 2]
    same = [int(np.count_nonzero(a != b)) for a, b in shot_twice]
    different = [int(np.count_nonzero(hashes[a][0] != hashes[b][0])) for a, b in itertools.combinations(hashes, 2)]
    limit = quality.Limits().duplicate
    return {
        "hash_bits": quality.HASH_BITS,
        "limit": limit,
        "pages": PAGES,
        "same_page_pairs": len(same),
        "same_page_max": max(same),
        "same_page_p95": round(float(np.percentile(same, 95)), 1),
        "same_page_caught_share": sum(d < limit for d in same) / len(same),
        "different_pairs": len(different),
        "different_min": min(different),
        "different_p1": round(float(np.percentile(different, 1)), 1),
        "different_median": float(np.median(different)),
        "different_taken_for_duplicates": sum(d < limit for d in different),
        "seconds": round(time.perf_counter() - started, 1),
    }
