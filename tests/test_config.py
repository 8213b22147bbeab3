"""Site configs are validated where they enter: every refusal names the file and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hardware.config import ConfigError, load

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
PI_EXAMPLE = DEMO.with_name("pi.example.toml")


def demo_text() -> str:
    return DEMO.read_text(encoding="utf-8")


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_the_shipped_configs_load():
    demo = load(DEMO)
    assert [r.id for r in demo.rooms] == ["east-stack", "west-stack", "outside"]
    assert [r.id for r in demo.rooms if r.outdoor] == ["outside"]
    assert demo.hardware.backend == "sim"
    assert load(PI_EXAMPLE).hardware.backend == "pi"


def test_relative_paths_are_resolved_from_the_config_file():
    assert load(DEMO).storage.dir == (DEMO.parent / "../../var/demo").resolve()


def test_an_unknown_key_is_named(tmp_path):
    text = demo_text().replace("interval_s = 5.0", "interval_s = 5.0\nintervall = 3", 1)
    assert "rooms[0].sensors[0].intervall: unknown key" in refusal(tmp_path, text)


def test_a_wrong_type_is_named_with_the_value(tmp_path):
    text = demo_text().replace("port = 1883", 'port = "1883"')
    assert "broker.port: Input should be a valid integer (got '1883')" in refusal(tmp_path, text)


def test_how_long_a_gateway_keeps_delivered_page_files_is_validated(tmp_path):
    pages = load(PI_EXAMPLE).pages
    assert (pages.keep_masters_days, pages.keep_access_days) == (7, 7)
    text = PI_EXAMPLE.read_text(encoding="utf-8").replace("keep_access_days = 7", "keep_access_days = -1")
    assert "pages.keep_access_days: Input should be greater than or equal to 0 (got -1)" in refusal(tmp_path, text)


def test_a_missing_section_is_named(tmp_path):
    text = demo_text().replace('[site]\nid = "demo"\nname = "Demo personnel archive"\ntimezone = "Asia/Shanghai"\n', "")
    assert "site: missing (required)" in refusal(tmp_path, text)


def test_a_pin_used_twice_on_one_gateway_is_refused(tmp_path):
    text = demo_text().replace("contact_pin = 27", "contact_pin = 17", 1)
    message = refusal(tmp_path, text)
    assert "rooms[0].doors[main-door].contact_pin: GPIO17 on gateway 'gw-east'" in message
    assert "rooms[0].relays[dehum-1].pin" in message


def test_the_same_pin_on_two_gateways_is_fine():
    # Both demo rooms use GPIO 4, 17 and 27, each on its own gateway (its own Pi).
    assert load(DEMO)


def test_a_room_on_an_unknown_gateway_is_refused(tmp_path):
    text = demo_text().replace('gateway = "gw-west"', 'gateway = "gw-north"')
    assert "rooms[1].gateway: 'gw-north' is not one of the gateways" in refusal(tmp_path, text)


def test_a_band_must_be_ordered(tmp_path):
    band = "climate.humidity_rh = {low = 60.0, high = 45.0}\n"
    text = demo_text().replace('gateway = "gw-east"\n', 'gateway = "gw-east"\n' + band)
    assert "rooms[0].climate.humidity_rh: low (60.0) must be below high (45.0)" in refusal(tmp_path, text)


def test_broken_toml_is_reported_with_its_position(tmp_path):
    assert "not valid TOML" in refusal(tmp_path, "[site\nid=1")


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "absent.toml")


def test_config_check_on_the_command_line(tmp_path):
    good = subprocess.run(
        [sys.executable, "-m", "storeroom", "config", "check", str(DEMO)], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert "ok: site demo, 2 gateway(s)" in good.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(demo_text().replace('backend = "sim"', 'backend = "arduino"'), encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "storeroom", "config", "check", str(bad)], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert f"{bad}: hardware.backend:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_outdoor_position_may_not_have_relays_or_doors(tmp_path):
    text = demo_text().replace("outdoor = true", 'outdoor = true\n\n[[rooms.doors]]\nid = "gate"\ncontact_pin = 6')
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rooms\[2\].*outdoor position has sensors only"):
        load(path)


def test_two_readers_on_one_chip_select_are_refused(tmp_path):
    text = demo_text().replace('spi_device = "CE1"', 'spi_device = "CE0"', 1)
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rfid.readers\[1\].spi_device: CE0 on gateway 'gw-east' is already used"):
        load(path)


def test_a_reader_reset_pin_that_drives_something_else_is_refused(tmp_path):
    text = demo_text().replace("reset_pin = 24", "reset_pin = 17", 1)  # the east dehumidifier's relay
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"GPIO17 on gateway 'gw-east' is already used by rfid.readers\[east-door\]"):
        load(path)
