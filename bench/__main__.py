"""Run every benchmark and record its results (`make bench`)."""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import doors, dossier_pdf, orientation, outbox, page_hash, rfid, search, uploads, vision

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = {
    "outbox": outbox.run,
    "rfid": rfid.run,
    "uploads": uploads.run,
    "vision": vision.run,
    "page_hash": page_hash.run,
    "orientation": orientation.run,
    "search": search.run,
    "doors": doors.run,
    "dossier_pdf": dossier_pdf.run,
}


def main(names: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name in names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        result = BENCHMARKS[name]()
        result["machine"] = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "system": platform.platform(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
