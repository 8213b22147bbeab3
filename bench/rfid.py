"""How fast a tag becomes an event, and what an idle reader costs.

- `latency_ms_p50/p99`: from a tag entering a reader's field to its tag_read message in the gateway's
  durable outbox, with the whole gateway running, at the demo config's poll interval; bounded below by the
  poll interval (a tag waits for the next poll).
- `idle_cpu_percent`: process CPU time over wall time while the service polls an empty field.
- `spi_transfers_per_idle_poll`: SPI transfers one empty poll makes, against the `mfrc522` package's own
  `MFRC522_Request` (the peer: what `SimpleMFRC522.read()` does in its loop). On a Pi each transfer costs
  tens of microseconds of bus time, so this ratio carries over to real hardware better than the CPU
  figure, which here also measures the Python model of the chip.

Runs against the register-level model (rfid/mfrc522_model.py), not a Pi: the numbers are the software's share.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from gateway.service import GatewayService
from hardware.config import load
from rfid import media, tagformat
from rfid.cards import ClassicCard
from rfid.keys import signing_key
from rfid.service import ReaderService, open_readers
from tests.support import write_site

PRESENTATIONS = 100
IDLE_SECONDS = 5.0


def _card(key_id: int, key: bytes, n: int) -> ClassicCard:
    """A Classic 1K enrolled at the factory with dossier code WS-2024-<n>."""
    card = ClassicCard(n.to_bytes(4, "big"))
    payload = tagformat.encode("dossier", f"WS-2024-{n:06d}", card.uid, key_id, key)
    for write in media.plan(payload, card.uid, "classic1k", key):
        card.store(write.address, write.data)
    return card


def _to_outbox(folder: Path, key_id: int, key: bytes) -> list[float]:
    """Milliseconds from a tag entering the east shelf reader's field to its tag_read row in the outbox, with
    the whole gateway running (sensors, control, the link trying an absent broker)."""
    path = write_site(folder / "gateway")
    path.write_text(path.read_text().replace("tag_scans_per_hour = 20.0", "tag_scans_per_hour = 0.0"))
    site = load(path)
    gateway = GatewayService(site, "gw-east", password="unused", broker_port=1)
    stop = threading.Event()
    thread = threading.Thread(target=gateway.run, args=(stop,), daemon=True)
    thread.start()
    (opened,) = [r for r in gateway.readers if r.config.id == "east-shelf"]
    latencies, rng = [], random.Random(1)
    try:
        for n in range(PRESENTATIONS):
            card = _card(key_id, key, n + 1)
            seen = gateway.outbox.last_seq()
            start = time.time()
            opened.field.enter(card)
            deadline = time.monotonic() + 10
            while True:
                rows = [m for m in gateway.outbox.after(seen, 1000) if m.topic.endswith("/event/tag_read")]
                if rows:
                    latencies.append((rows[0].created - start) * 1000)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"presentation {n}: no tag_read in the outbox")
                time.sleep(0.002)
            opened.field.leave(card)
            # The reader forgets a tag after two empty polls; a random phase so arrivals fall anywhere
            # between polls, as a keeper's hand does.
            time.sleep(opened.config.poll_interval_s * (2.5 + rng.random()))
    finally:
        stop.set()
        thread.join(15)
    return latencies


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        site = load(write_site(Path(tmp)))
        (opened,) = [r for r in open_readers(site, "gw-east") if r.config.id == "east-shelf"]
        reader = opened.reader
        chip = reader.device.spi.chip
        key_id, key = signing_key(site)

        before = chip.transfers
        reader.device.MFRC522_Request(reader.device.PICC_REQIDL)
        peer_transfers = chip.transfers - before
        before = chip.transfers
        reader.poll()
        our_transfers = chip.transfers - before

        service = ReaderService([opened], lambda event: None)
        service.start()
        time.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        service.stop()

        latencies = _to_outbox(Path(tmp), key_id, key)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "presentations": PRESENTATIONS,
        "poll_interval_s": opened.config.poll_interval_s,
        "latency_measured_to": "the tag_read message written in the gateway's outbox (its `created` time)",
        "latency_ms_p50": round(quantiles[49], 1),
        "latency_ms_p99": round(quantiles[98], 1),
        "latency_ms_max": round(max(latencies), 1),
        "idle_cpu_percent": round(idle_cpu * 100, 2),
        "spi_transfers_per_idle_poll": our_transfers,
        "spi_transfers_per_idle_poll_mfrc522_request": peer_transfers,
        "idle_transfers_vs_peer": round(our_transfers / peer_transfers, 3),
    }
