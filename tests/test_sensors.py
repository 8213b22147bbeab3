"""Sensors as the gateway sees them, and the board's choice of pins."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.board import BoardError, pin_factory
from hardware.clock import ManualClock
from hardware.config import Hardware
from sensors import ProbeError, open_climate_sensor


def test_the_real_dht22_driver_off_a_pi_says_it_needs_a_pi(site):
    # Blinka loads on a PC as a "generic" board without the Pi's pins (or not at all, on other machines).
    with pytest.raises(ProbeError, match=r"sensor dht-1: (Adafruit's DHT driver cannot load|.*has no pin D4)"):
        open_climate_sensor(site.rooms[0].sensors[0], "pi", None, "east-stack", random.Random(), ManualClock())


def test_simulation_gets_gpiozeros_mock_pins():
    assert isinstance(pin_factory(Hardware(backend="sim")), MockFactory)


def test_real_pins_off_a_pi_give_a_message_that_says_what_to_do():
    with pytest.raises(BoardError, match=r"no GPIO library works here.*`pi` extra"):
        pin_factory(Hardware(backend="pi"))


def test_a_simulated_gateway_never_imports_the_real_hardware_libraries(site):
    # Off a Pi, RPi.GPIO installs but raises on import; a simulated gateway must not even try. The device
    # libraries themselves do run: Adafruit's DHT driver on Blinka stand-ins that never enter sys.modules, and
    # the mfrc522 package on the simulation's spidev and RPi.GPIO, which are not files of any real package.
    code = (
        "import sys\n"
        "from hardware.config import load\n"
        "from gateway.service import GatewayService\n"
        f"GatewayService(load({str(site.source)!r}), 'gw-east', password='unused')\n"
        "real = {'RPi', 'spidev', 'lgpio', 'board', 'digitalio', 'pulseio', 'microcontroller', 'picamera2'}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in real]\n"
        "print(sorted(m for m in loaded if getattr(sys.modules[m], '__file__', None)))\n"
        "print('mfrc522' in sys.modules)\n"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["[]", "True"]
