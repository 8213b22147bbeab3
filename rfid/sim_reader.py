"""A reader on the simulated board: the modelled chip on SPI bus 0, the real `mfrc522` package driving it."""

from __future__ import annotations

import importlib
import sys

from rfid import mfrc522_model
from rfid.mfrc522_model import BUS, Field, MFRC522Chip
from rfid.reader import Reader


def simulated_reader(
    name: str,
    location: str,
    keys: dict[int, bytes],
    signing_key_id: int,
    *,
    device: int = 0,
    reset_pin: int = 25,
) -> tuple[Reader, Field, MFRC522Chip]:
    """A `Reader` on chip select `device` (CE0/CE1), with its field of cards and the chip behind it."""
    mfrc522_model.install()
    field = Field()
    chip = MFRC522Chip(field)
    BUS.attach(chip, 0, device, reset_pin)
    gpio = sys.modules["RPi.GPIO"]
    if gpio.getmode() is None:
        gpio.setmode(gpio.BCM)
    mfrc522 = importlib.import_module("mfrc522")
    driver = mfrc522.MFRC522(bus=0, device=device, pin_rst=reset_pin)
    return Reader(name, location, driver, gpio, reset_pin, keys, signing_key_id), field, chip
