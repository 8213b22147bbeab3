"""Sensors as the gateway sees them, and the board's choice of pins."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.board import BoardError, pin_factory
from hardware.config import Hardware
from sensors import open_climate_sensor
from sensors.sim_dht22 import ROUTINE_ERRORS


class StillRoom:
    def climate(self, room_id: str) -> tuple[float, float]:
        return 20.0, 55.0

    def sensor_connected(self, room_id: str, sensor_id: str) -> bool:
        return True


def test_the_simulated_dht22_reads_near_the_truth_and_fails_now_and_then(site):
    sensor = site.rooms[0].sensors[0]
    dht = open_climate_sensor(sensor, "sim", StillRoom(), "east-stack", random.Random(3))
    samples = [dht.read() for _ in range(1000)]
    good = [s for s in samples if s.state == "ok"]
    failed = [s for s in samples if s.state == "failed"]
    assert all(abs(s.temperature_c - 20.0) < 1.0 and abs(s.humidity_rh - 55.0) < 3.0 for s in good)
    assert 5 < len(failed) < 80
    assert {s.error for s in failed} <= set(ROUTINE_ERRORS)
    assert all(s.temperature_c is None and s.humidity_rh is None for s in failed)


def test_the_real_dht22_driver_is_not_pretended(site):
    with pytest.raises(NotImplementedError, match="issue #4"):
        open_climate_sensor(site.rooms[0].sensors[0], "pi", None, "east-stack", random.Random())


def test_simulation_gets_gpiozeros_mock_pins():
    assert isinstance(pin_factory(Hardware(backend="sim")), MockFactory)


def test_real_pins_off_a_pi_give_a_message_that_says_what_to_do():
    with pytest.raises(BoardError, match=r"no GPIO library works here.*`pi` extra"):
        pin_factory(Hardware(backend="pi"))


def test_a_simulated_gateway_never_imports_the_real_hardware_libraries(site):
    # Off a Pi, RPi.GPIO installs but raises on import; a simulated gateway must not even try.
    # (spidev is not listed: gpiozero imports it itself, and it opens nothing until used.)
    code = (
        "import sys\n"
        "from hardware.config import load\n"
        "from gateway.service import GatewayService\n"
        f"GatewayService(load({str(site.source)!r}), 'gw-east', password='unused')\n"
        "real = {'RPi', 'lgpio', 'adafruit_dht', 'board', 'digitalio', 'pulseio', 'picamera2', 'mfrc522'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in real))\n"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]"
