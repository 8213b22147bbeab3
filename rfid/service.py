"""A gateway's RFID readers, polled on one thread at their configured intervals; events go to a sink.

`open_readers` chooses the bus once: the modelled MFRC522s of the simulated board for backend "sim"
(rfid/sim_reader.py), the real spidev and RPi.GPIO on a Pi. The service never blocks the gateway: it has
its own thread, a poll is a few SPI transfers, and between polls it waits on an Event.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hardware.background import Background
from hardware.config import RfidReader, SiteConfig
from rfid import keys as site_keys
from rfid.reader import Reader, ReaderFault, TagRead

if TYPE_CHECKING:
    from rfid.mfrc522_model import Field

log = logging.getLogger(__name__)

Sink = Callable[[TagRead | ReaderFault], None]


class ReaderError(RuntimeError):
    """A reader that cannot be opened; the message says what to check."""


@dataclass
class OpenedReader:
    config: RfidReader
    reader: Reader
    field: Field | None = None
    """The simulated field in front of it (None on a Pi)."""


def open_readers(site: SiteConfig, gateway_id: str) -> list[OpenedReader]:
    """Every reader the config puts on this gateway, opened on the board's SPI bus."""
    configs = [r for r in site.rfid.readers if r.gateway == gateway_id]
    if not configs:
        return []
    keys = site_keys.site_keys(site)
    if site.rfid.key_id not in keys:
        site_keys.ensure_key(site)
        keys = site_keys.site_keys(site)
    opened = []
    for config in configs:
        if site.hardware.backend == "sim":
            from rfid.sim_reader import simulated_reader

            reader, field, _ = simulated_reader(
                config.id, config.location, keys, site.rfid.key_id, device=config.spi_index, reset_pin=config.reset_pin
            )
            opened.append(OpenedReader(config, reader, field))
        else:
            opened.append(OpenedReader(config, _real_reader(config, keys, site.rfid.key_id)))
    return opened


def _real_reader(config: RfidReader, keys: dict[int, bytes], key_id: int) -> Reader:
    try:
        gpio = importlib.import_module("RPi.GPIO")
        mfrc522 = importlib.import_module("mfrc522")
    except (ImportError, RuntimeError) as exc:
        raise ReaderError(
            f"reader {config.id}: the mfrc522 package cannot load ({exc}); install the `pi` extra"
        ) from None
    if gpio.getmode() is None:
        gpio.setmode(gpio.BCM)
    try:
        driver = mfrc522.MFRC522(bus=0, device=config.spi_index, pin_rst=config.reset_pin)
    except FileNotFoundError:
        raise ReaderError(
            f"reader {config.id}: /dev/spidev0.{config.spi_index} is missing; enable SPI (dtparam=spi=on) and reboot"
        ) from None
    return Reader(config.id, config.location, driver, gpio, config.reset_pin, keys, key_id)


class ReaderService(Background):
    """Polls `readers` until stopped; each event goes to `sink` (which must not block for long)."""

    thread_name = "rfid-readers"

    def __init__(self, readers: list[OpenedReader], sink: Sink) -> None:
        super().__init__()
        self.readers = readers
        self.sink = sink

    def start(self) -> None:
        if self.readers:
            super().start()

    def _run(self) -> None:
        due = dict.fromkeys(range(len(self.readers)), time.monotonic())
        while not self._stop.is_set():
            now = time.monotonic()
            for i, opened in enumerate(self.readers):
                if due[i] > now:
                    continue
                due[i] = now + opened.config.poll_interval_s
                for event in opened.reader.poll():
                    try:
                        self.sink(event)
                    except Exception:  # a sink's failure must not stop the readers
                        log.exception("reader %s: the event sink failed", opened.config.id)
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))
