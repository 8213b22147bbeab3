"""What resumable, verified page uploads cost: the gateway's uploader against one plain request per file.

A page of a 12 MP stand photo at 300 dpi is a PNG master of about 12 MB and an access JPEG of about 1.5 MB;
a dossier of 40 pages is about 540 MB. Measured here, over loopback to the dashboard under waitress:

- `submit_ms`: `submit_page` for one such page on the gateway (link into the spool, SHA-256 of both files,
  queue row, event): the part the copy-stand session waits for;
- `upload_mb_per_s`: the uploader sending the queued files (`pages.chunk_kib` pieces, each fsynced by the
  dashboard, the whole file hashed once complete), for 1 MiB (the default) and 4 MiB pieces;
- `peer_mb_per_s`: the same bytes in one PATCH per file to the same server (what an upload that cannot
  resume costs); `vs_peer` is ours / peer (1.0 = resuming is free).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from dashboard.app import create_app
from gateway.uploads import PageUploads
from hardware.broker import ensure_passwords, read_password
from hardware.config import load
from tests.support import write_site
from tests.test_dashboard_page import WebServer, free_port

PAGES = int(os.environ.get("BENCH_UPLOAD_PAGES", "8"))
REPEATS = int(os.environ.get("BENCH_UPLOAD_REPEATS", "3"))
MASTER_MB, ACCESS_MB = 12, 1.5


def _page(root: Path, number: int) -> dict:
    """A page's files as vision/outputs.py lays them out, with incompressible contents of realistic sizes."""
    folder = root / "A01-0001"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, name, size in (("master", f"{number:04d}.png", MASTER_MB), ("access", f"{number:04d}.jpg", ACCESS_MB)):
        data = os.urandom(int(size * 1e6))
        (folder / name).write_bytes(data)
        files[kind] = {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return {
        "page": number,
        "captured": "2026-11-23T09:00:00+08:00",
        "device": "bench",
        "dpi": 300.0,
        "files": files,
        "qc": {"ok": True, "checks": {"blur": {"ok": True, "value": 100.0, "limit": 60.0, "reason": ""}}},
    }


def _run_uploader(site, url: str, root: Path, entries: list[dict], chunk_kib: int) -> tuple[float, float]:
    pages = site.pages.model_copy(update={"upload_url": url, "chunk_kib": chunk_kib})
    uploads = PageUploads(site.model_copy(update={"pages": pages}), "gw-east", lambda kind, **fields: None)
    submit = []
    for page in entries:
        start = time.perf_counter()
        uploads.submit_page(root, "A01-0001", page)
        submit.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    uploads.start()
    while uploads.pending():
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    uploads.close()
    return statistics.median(submit), elapsed


def _peer(url: str, auth: tuple[str, str], root: Path, entries: list[dict]) -> float:
    """Each file in one request, read whole into memory first, as a plain upload would."""
    start = time.perf_counter()
    with requests.Session() as session:
        for page in entries:
            for ref in page["files"].values():
                data = (root / "A01-0001" / ref["path"]).read_bytes()
                answer = session.patch(
                    f"{url}/api/uploads/{ref['sha256']}",
                    data=data,
                    auth=auth,
                    headers={
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": "0",
                        "Upload-Length": str(len(data)),
                    },
                    timeout=60,
                )
                assert answer.json()["complete"], answer.text
    return time.perf_counter() - start


def _once(folder: Path, chunk_kib: int | None) -> tuple[float, float]:
    """(MB/s, median submit ms) of one variant on a fresh dashboard; chunk_kib None is the peer."""
    site = load(write_site(folder))
    ensure_passwords(site)
    server = WebServer(create_app(site), free_port()).start()
    url = server.url.rstrip("/")
    try:
        root = folder / "stand"
        entries = [_page(root, n) for n in range(1, PAGES + 1)]
        if chunk_kib is None:
            return PAGES * (MASTER_MB + ACCESS_MB) / _peer(
                url, ("gw-east", read_password(site, "gw-east")), root, entries
            ), 0.0
        submit_ms, elapsed = _run_uploader(site, url, root, entries, chunk_kib)
        return PAGES * (MASTER_MB + ACCESS_MB) / elapsed, submit_ms
    finally:
        server.stop()


def run() -> dict:
    """Each variant REPEATS times, interleaved, so a busy machine weighs on all alike; medians recorded."""
    variants = {"chunk_1024_kib": 1024, "chunk_4096_kib": 4096, "peer": None}
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    submits: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(REPEATS):
            for name, chunk in variants.items():
                speed, submit = _once(Path(tmp) / f"{name}-{rep}", chunk)
                speeds[name].append(speed)
                submits[name].append(submit)
    peer = statistics.median(speeds["peer"])
    results: dict = {"pages": PAGES, "total_mb": PAGES * (MASTER_MB + ACCESS_MB), "repeats": REPEATS}
    results["peer_mb_per_s"] = round(peer, 1)
    for name in ("chunk_1024_kib", "chunk_4096_kib"):
        speed = statistics.median(speeds[name])
        results[name] = {
            "submit_ms": round(statistics.median(submits[name]), 1),
            "upload_mb_per_s": round(speed, 1),
            "vs_peer": round(speed / peer, 2),
        }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
