"""The copy stand's correction: accuracy on the simulated stand's ground truth, and time per photo.

Inputs are generated (seeded, vision/standsim.py), so accuracy is measured, not eyeballed:

- `accuracy`: on good shots (including a finger holding the page), is the page found, the corner error as
  a share of the page diagonal, and the residual skew (measured text skew minus the true one, degrees);
- `qc`: every shot, good or with one fault (blur, over-exposure, cut off, finger, no page, the same page
  shot twice): detection rate on bad shots and false-alarm rate on good ones. A 2 MP frame holds about
  80 dpi on A4, so the resolution check's limit is set to 60 here (it is exercised in the tests);
- `peers`: unpaper (Debian's package, default options), `deskew` (determine_skew) and `jdeskew` (get_angle)
  on the same photos: the text angle each finds in the photo against the truth (page rotation plus the
  print's own skew), and their time;
- `speed`: single thread (cv2.setNumThreads(1)), per 2 MP and 12 MP (4056x3040) photo: decode, correct,
  write the master (MASTER_FORMAT, the copy stand's default) and the access JPEG with the manifest and hashes;
  `io_floor` is decoding the photo and encoding the same two files only. Beside unpaper's time (wall-clock,
  and its CPU time as a child process): its ratio to our whole page, to the correction alone and to the I/O
  floor alone. unpaper works on the photo's own pixels; we always write a 300 dpi page (`pixels`);
- `master_formats`: each lossless master encoding (and the access JPEG) on the same 12 MP page: ms to encode,
  bytes per page, and whether it decodes to exactly the page;
- `pi5_estimate`: this machine's times scaled by a reference workload whose Pi 5 rate is published (sysbench's
  CPU test, one thread), with the range the scaling deserves (see PI5_RANGE);
- `memory`: peak resident memory of one 12 MP page in a fresh process, over the same process before it, with
  the photo held while the files are written and with it released after correcting.

Each peer's sign convention is found by showing it a flat page turned 2 degrees counter-clockwise.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from vision import outputs, quality, standsim
from vision.pipeline import Hints, correct

N_SHOTS = int(os.environ.get("BENCH_VISION_SHOTS", "150"))
N_SPEED = int(os.environ.get("BENCH_VISION_SPEED", "4"))
N_PEERS = int(os.environ.get("BENCH_VISION_PEERS", "30"))
N_UNPAPER = int(os.environ.get("BENCH_VISION_UNPAPER", "4"))
BAD = ("blur", "overexposed", "cut_off", "finger", "no_page", "duplicate")
LIMITS_2MP = quality.Limits(resolution_dpi=60)
MASTER_FORMAT = "tiff"  # the copy stand's and the CLI's default (hardware/config.py, vision/cli.py)


def _stats(values: list[float]) -> dict:
    a = np.abs(np.asarray(values, float))
    if not len(a):
        return {}
    return {
        k: round(float(v), 4)
        for k, v in {"median": np.median(a), "p95": np.percentile(a, 95), "max": a.max(), "n": len(a)}.items()
    }


def _truth_angle(truth: dict) -> float:
    """The text's angle in the photo at the page's centre, counter-clockwise degrees (from the simulator)."""
    return truth["photo_text_angle_deg"]


def accuracy_and_qc() -> dict:
    rng = np.random.default_rng(2026)
    corner, skew, found = [], [], []
    caught = {f: [0, 0] for f in BAD}
    false_alarm = [0, 0]
    alarms: dict[str, int] = {}
    prev_hash = None
    for i in range(N_SHOTS):
        kind = "good" if rng.random() < 0.5 else str(rng.choice(BAD))
        seed = 10_000 + i
        page_seed = seed - 1 if kind == "duplicate" else seed
        shot = standsim.simulate(seed, faults=(kind,) if kind not in ("good", "duplicate") else (), page_seed=page_seed)
        if kind == "duplicate":
            prev_hash = correct(
                standsim.simulate(seed + 500_000, page_seed=page_seed).image, Hints(dpi=150, limits=LIMITS_2MP)
            ).page_hash
        result = correct(shot.image, Hints(dpi=150, limits=LIMITS_2MP, previous_hash=prev_hash))
        prev_hash = result.page_hash
        bad = not result.qc["ok"]
        if kind in ("good", "finger"):
            found.append(result.page_quad is not None)
            if result.page_quad is not None:
                corner.append(standsim.ground_truth_corner_error(result.page_quad, shot.truth["page_quad"]))
                skew.append(result.skew_deg - shot.truth["text_skew_deg"])
        if kind == "good":
            false_alarm[0] += bad
            false_alarm[1] += 1
            for name, c in result.qc["checks"].items():
                if not c["ok"]:
                    alarms[name] = alarms.get(name, 0) + 1
        else:
            caught[kind][0] += bad
            caught[kind][1] += 1
    n_bad = sum(t for _, t in caught.values())
    return {
        "shots": N_SHOTS,
        "accuracy": {
            "page_found_rate": round(float(np.mean(found)), 4),
            "corner_error_of_diagonal": _stats(corner),
            "residual_skew_deg": _stats(skew),
        },
        "qc": {
            "detection_rate": round(sum(c for c, _ in caught.values()) / max(1, n_bad), 4),
            "by_fault": {f: f"{c}/{t}" for f, (c, t) in caught.items()},
            "false_alarm_rate": round(false_alarm[0] / max(1, false_alarm[1]), 4),
            "false_alarms_by_check": alarms,
            "good_shots": false_alarm[1],
        },
    }


def _flat_test_page() -> np.ndarray:
    page = standsim.render_page(np.random.default_rng(1), 1000, 1414)
    canvas = np.full((1800, 1400, 3), 240, np.uint8)
    canvas[193:1607, 200:1200] = page
    rot = cv2.getRotationMatrix2D((700, 900), 2.0, 1.0)  # 2 degrees counter-clockwise
    return cv2.warpAffine(canvas, rot, (1400, 1800), borderValue=(240, 240, 240))


def _peer_deskew(image: np.ndarray) -> float:
    from deskew import determine_skew

    return float(determine_skew(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) or 0.0)


def _peer_jdeskew(image: np.ndarray) -> float:
    from jdeskew.estimator import get_angle

    return float(get_angle(image))


def _peer_unpaper(image: np.ndarray) -> float:
    """unpaper with its defaults on a PNM of the photo; the rotation it applied, parsed from -v output."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.ppm", Path(tmp) / "out.ppm"
        cv2.imwrite(str(src), image)
        out = subprocess.run(
            ["unpaper", "-v", "--overwrite", str(src), str(dst)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        found = re.findall(r"^rotate \([^)]*\): (-?[\d.]+)", out.stdout + out.stderr, re.M)
        return float(found[-1]) if found else 0.0


def _ours(image: np.ndarray) -> float:
    """Our text angle in the photo: the deskewed text direction at the page's centre, mapped back to the photo."""
    from vision import geometry

    r = correct(image, Hints(dpi=100, limits=LIMITS_2MP, despeckle=False, flatten=False))
    if r.page_quad is None:
        return 0.0
    h, (w, hgt) = geometry.page_homography(np.asarray(r.page_quad), r.page_size_mm, 100)
    t = np.radians(r.skew_deg)
    flat = np.array([[w / 2, hgt / 2], [w / 2 + 100 * np.cos(t), hgt / 2 - 100 * np.sin(t)]])
    (x0, y0), (x1, y1) = geometry.map_points(np.linalg.inv(h), flat)
    return float(-np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def peers(shots: list) -> dict:
    have_unpaper = shutil.which("unpaper") is not None
    runners = {"storeroom": _ours, "deskew": _peer_deskew, "jdeskew": _peer_jdeskew}
    if have_unpaper:
        runners["unpaper"] = _peer_unpaper
    else:
        print("unpaper not installed (apt-get install unpaper): left out of the comparison", file=sys.stderr)
    flat = _flat_test_page()
    out = {}
    for name, run in runners.items():
        try:
            probe = run(flat)
        except ImportError:
            print(f"{name} not installed (pip install '.[bench]'): left out", file=sys.stderr)
            continue
        sign = 1.0 if name == "storeroom" else (-1.0 if probe < 0 else 1.0)  # ours needs a stand, not a probe
        errors, times = {"dark": [], "light": []}, []
        subset = shots[:N_UNPAPER] if name == "unpaper" else shots
        for shot in subset:
            start = time.perf_counter()
            angle = sign * run(shot.image)
            times.append(time.perf_counter() - start)
            errors[shot.truth["stand"]].append(angle - _truth_angle(shot.truth))
        out[name] = {
            "sign_probe_deg": round(probe, 3),
            "angle_error_deg_dark_stand": _stats(errors["dark"]),
            "angle_error_deg_light_stand": _stats(errors["light"]),
            "ms_per_2mp_photo": round(1000 * float(np.median(times)), 1),
        }
    return out


def _page_once(jpeg: bytes, folder: Path, page: int, hints: Hints) -> dict:
    """Wall-clock and CPU seconds of each step (CPU time: the machine is shared, and every step is one thread)."""
    marks = [(time.perf_counter(), time.process_time())]
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    marks.append((time.perf_counter(), time.process_time()))
    result = correct(image, hints)
    marks.append((time.perf_counter(), time.process_time()))
    meta = outputs.PageMeta("BENCH-1", page, "2026-01-01T00:00:00+08:00", "bench", hints.dpi)
    files = outputs.save_page(folder, meta, result.master, result.qc, fmt=MASTER_FORMAT)
    marks.append((time.perf_counter(), time.process_time()))
    # The floor: the same decode, and encoding the same two files, with nothing in between.
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    outputs.write_files(folder, result.master, meta, MASTER_FORMAT)
    marks.append((time.perf_counter(), time.process_time()))
    out = {}
    for clock, prefix in ((0, ""), (1, "cpu_")):
        t = [m[clock] for m in marks]
        out |= {
            f"{prefix}decode": t[1] - t[0],
            f"{prefix}correct": t[2] - t[1],
            f"{prefix}write": t[3] - t[2],
            f"{prefix}whole": t[3] - t[0],
            f"{prefix}io_floor": t[4] - t[3],
        }
    sizes = {kind: Path(path).stat().st_size for kind, path in files.items()}
    return out, sizes, (image.shape[1], image.shape[0]), (result.master.shape[1], result.master.shape[0])


def _unpaper_times(image: np.ndarray) -> tuple[float, float]:
    """unpaper's wall-clock and CPU ms (its own, as a child process: not inflated by a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    _peer_unpaper(image)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return 1000 * wall, 1000 * cpu


def speed() -> dict:
    cv2.setNumThreads(1)
    out = {}
    for label, size in (("2mp", standsim.SIZE_2MP), ("12mp", standsim.SIZE_12MP)):
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(N_SPEED):
                shot = standsim.simulate(20_000 + i, size=size)
                runs.append(_page_once(shot.jpeg, Path(tmp), i + 1, Hints(dpi=300, limits=LIMITS_2MP)))
        med = {k: round(1000 * float(np.median([r[0][k] for r in runs])), 1) for k in runs[0][0]}
        photo_px, master_px = runs[0][2], runs[0][3]
        out[label] = {
            **{f"{k}_ms": v for k, v in med.items()},
            "whole_over_io_floor": round(med["whole"] / med["io_floor"], 2),
            "cpu_whole_over_io_floor": round(med["cpu_whole"] / med["cpu_io_floor"], 2),
            "master_format": MASTER_FORMAT,
            "bytes_per_page": {k: int(np.median([r[1][k] for r in runs])) for k in runs[0][1]},
            # unpaper cleans the photo at its own size; we write the page at 300 dpi whatever the photo.
            "pixels": {
                "photo": f"{photo_px[0]}x{photo_px[1]}",
                "our_master": f"{master_px[0]}x{master_px[1]}",
                "unpaper_output": f"{photo_px[0]}x{photo_px[1]}",
                "our_master_over_photo": round(master_px[0] * master_px[1] / (photo_px[0] * photo_px[1]), 2),
            },
        }
        peers_ms = {}
        shot = standsim.simulate(20_000, size=size)
        for name, run in (("deskew", _peer_deskew), ("jdeskew", _peer_jdeskew)):
            try:
                start = time.perf_counter()
                run(shot.image)
                peers_ms[name] = round(1000 * (time.perf_counter() - start), 1)
            except ImportError:
                continue
        out[label]["peers_ms"] = peers_ms
        if shutil.which("unpaper") is not None:
            # Median of three: one unpaper run on a shared machine can be off by seconds.
            times = [_unpaper_times(shot.image) for _ in range(3)]
            wall = float(np.median([w for w, _ in times]))
            cpu = float(np.median([c for _, c in times]))
            peers_ms["unpaper"] = round(wall, 1)
            out[label]["unpaper_cpu_ms"] = round(cpu, 1)
            out[label]["unpaper_over_whole"] = round(wall / med["whole"], 1)
            out[label]["cpu_unpaper_over_whole"] = round(cpu / med["cpu_whole"], 1)
            out[label]["unpaper_over_correct"] = round(wall / med["correct"], 1)
            # What 20x unpaper needs of the whole page, next to what the I/O alone costs.
            out[label]["unpaper_over_io_floor"] = round(wall / med["io_floor"], 1)
    return out


def _lossless(path: Path, rgb: np.ndarray) -> bool:
    with Image.open(path) as image:
        return bool(np.array_equal(np.asarray(image), rgb))


def master_formats() -> dict:
    """Each way of writing the 12 MP page's master (and its access JPEG): ms to encode, bytes, lossless or not.

    Single thread. Median of three; CPU time beside wall-clock. `tiff_deflate1` is what the stand writes.
    """
    cv2.setNumThreads(1)
    shot = standsim.simulate(20_000, size=standsim.SIZE_12MP)
    page = correct(cv2.imdecode(np.frombuffer(shot.jpeg, np.uint8), cv2.IMREAD_COLOR), Hints(dpi=300)).master
    meta = outputs.PageMeta("BENCH-1", 1, "2026-01-01T00:00:00+08:00", "bench", 300)
    rgb = cv2.cvtColor(page, cv2.COLOR_BGR2RGB)

    def tifffile_deflate(level: int):
        def write(path: Path) -> None:
            tifffile.imwrite(
                path, rgb, photometric="rgb", compression="adobe_deflate", compressionargs={"level": level},
                resolution=(300, 300), resolutionunit="INCH", metadata=None, maxworkers=1,
            )  # fmt: skip

        return write

    def pillow(**options: object):
        return lambda path: Image.fromarray(rgb).save(path, dpi=(300, 300), **options)

    def pillow_jpeg(path: Path) -> None:  # what write_access did before: the same bytes, from Pillow's encoder
        Image.fromarray(rgb).save(
            path, format="JPEG", quality=85, dpi=(300, 300), exif=outputs._exif(meta), xmp=outputs._xmp(meta)
        )

    def ours(fmt: str):
        return lambda path: outputs.write_master(path.parent, page, meta, fmt).rename(path)

    candidates = {
        "tiff_deflate1 (the default)": ("tif", ours("tiff")),
        "tiff_deflate2_tifffile": ("tif", tifffile_deflate(2)),
        "tiff_deflate6_tifffile": ("tif", tifffile_deflate(6)),
        "tiff_deflate6_pillow (before)": ("tif", pillow(compression="tiff_adobe_deflate")),
        "tiff_lzw_pillow": ("tif", pillow(compression="tiff_lzw")),
        "tiff_packbits_pillow": ("tif", pillow(compression="packbits")),
        "tiff_uncompressed_pillow": ("tif", pillow(compression="raw")),
        "png1_pillow (--master png)": ("png", ours("png")),
        "png0_pillow": ("png", pillow(compress_level=0)),
        "jpeg_q85 (access: OpenCV, EXIF+XMP)": ("jpg", lambda p: outputs.write_access(p.parent, page, meta).rename(p)),
        "jpeg_q85_pillow (access before, EXIF+XMP)": ("jpg", pillow_jpeg),
        "jpeg_q85_opencv (no metadata)": ("jpg", lambda p: cv2.imwrite(str(p), page, [cv2.IMWRITE_JPEG_QUALITY, 85])),
    }  # fmt: skip
    out = {"page_px": f"{page.shape[1]}x{page.shape[0]}", "raw_bytes": int(page.nbytes)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, write) in candidates.items():
            path = Path(tmp) / f"out.{suffix}"
            wall, cpu = [], []
            for _ in range(3):
                start, cpu_start = time.perf_counter(), time.process_time()
                write(path)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - cpu_start)
            out[name] = {
                "ms": round(1000 * float(np.median(wall)), 1),
                "cpu_ms": round(1000 * float(np.median(cpu)), 1),
                "bytes": path.stat().st_size,
                "lossless": _lossless(path, rgb) if suffix != "jpg" else False,
            }
    return out


# The reference workload for estimating a Raspberry Pi 5: sysbench's CPU test on one thread (primes up to
# 10000), whose Pi 5 rate is published: 2737.49 events/s (sysbench 1.0.20, `sysbench cpu --threads=1 --time=60
# run`, https://leoncode.co.uk/articles/raspberry-pi-benchmarks; 1477.83 for a Pi 4).
PI5_SYSBENCH_EVENTS_PER_S = 2737.49
# sysbench's primes are scalar integer division, which flatters the Cortex-A76 (it rates a Pi 5 core above an
# EPYC core); the correction is vector and memory-bound work (OpenCV's NEON, 128 bits, at 2.4 GHz on the Pi;
# AVX-512 here). So the scaled time is the optimistic end, and the range runs to 3x it; the estimate is the
# range's geometric middle. A judgement, not a measurement: Pi 5 times are to be measured (bench/README.md).
PI5_RANGE = (1.0, 3.0)


def pi5_estimate(speed_result: dict) -> dict:
    """Pi 5 times from this machine's times and the ratio of the sysbench reference (run here, single thread)."""
    if shutil.which("sysbench") is None:
        print("sysbench not installed (apt-get install sysbench): no Pi 5 estimate", file=sys.stderr)
        return {}
    out = subprocess.run(
        ["sysbench", "cpu", "--threads=1", "--time=10", "run"], capture_output=True, text=True, check=True
    ).stdout
    here = float(re.search(r"events per second:\s*([\d.]+)", out).group(1))
    ratio = here / PI5_SYSBENCH_EVENTS_PER_S
    result = {
        "method": "this machine's ms x (sysbench cpu events/s here, 1 thread / 2737.49 published for a Pi 5)",
        "sysbench_events_per_s_here": here,
        "sysbench_events_per_s_pi5": PI5_SYSBENCH_EVENTS_PER_S,
        "ratio": round(ratio, 2),
        "range_of_scaled_time": list(PI5_RANGE),
    }
    low, high = PI5_RANGE
    for label, r in speed_result.items():
        result[label] = {
            k: {
                "estimate": round(r[k] * ratio * (low * high) ** 0.5),
                "low": round(r[k] * ratio * low),
                "high": round(r[k] * ratio * high),
            }
            for k in ("correct_ms", "whole_ms", "io_floor_ms")
        }
    return result


MEMORY_PROBE = """
import pathlib, sys, tempfile
import cv2, numpy as np
cv2.setNumThreads(1)
from vision import outputs
from vision.pipeline import Hints, correct
jpeg = pathlib.Path(sys.argv[1]).read_bytes()
def hwm():
    # VmHWM, not ru_maxrss: ru_maxrss carries the parent's peak across fork and exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
base = hwm()
image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
r = correct(image, Hints(dpi=300))
if sys.argv[2] == "release":
    del image  # the photo is not needed once corrected: the files are written without it
meta = outputs.PageMeta("M", 1, "2026-01-01T00:00:00+00:00", "bench", 300)
with tempfile.TemporaryDirectory() as tmp:
    outputs.save_page(pathlib.Path(tmp), meta, r.master, r.qc)
print(base, hwm())
"""


def memory() -> dict:
    """Peak resident memory of one 12 MP page (decode, correct, write) in a fresh process: with the photo held
    while the files are written (as a caller that keeps it does), and with it released after correcting."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "12mp.jpg"
        photo.write_bytes(standsim.simulate(30_000, size=standsim.SIZE_12MP).jpeg)
        for mode in ("hold", "release"):
            probe = subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, str(photo), mode], capture_output=True, text=True, check=True
            )
            base, peak = (int(v) for v in probe.stdout.split())
            out[f"photo_{mode}"] = {
                "peak_rss_mb": round(peak / 1024, 1),
                "rss_after_imports_mb": round(base / 1024, 1),
                "page_mb": round((peak - base) / 1024, 1),
            }
    return out


def speed_in_own_process() -> dict:
    """`speed()` in a fresh interpreter that has loaded nothing but the pipeline, as a gateway has.

    Run after the peers in this process, the same pages took 15 % longer (correct 105 -> 121 ms, the writes
    141 -> 150; CPU time as much as wall-clock): the peers' libraries and the accuracy run's hundreds of
    photos leave the process in a state no copy stand is in.
    """
    probe = subprocess.run(
        [sys.executable, "-c", "import json; from bench import vision; print(json.dumps(vision.speed()))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])


def run() -> dict:
    shots = [standsim.simulate(40_000 + i) for i in range(N_PEERS)]
    result = accuracy_and_qc()
    result["peers"] = peers(shots)
    result["speed"] = speed_in_own_process()
    result["master_formats"] = master_formats()
    result["pi5_estimate"] = pi5_estimate(result["speed"])
    result["memory_12mp"] = memory()
    result["threads"] = 1
    result["cpu"] = _cpu()
    return result


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
