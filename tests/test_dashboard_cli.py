"""`storeroom dashboard serve` as an operator runs it: refusals with a reason and exit code 2, and a
real run (a child process, a real Mosquitto, real HTTP) that serves, takes messages in, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from gateway import protocol
from hardware.process import die_with_parent
from storeroom.cli import main
from tests.support import add_user, api_token, free_port, wait_until, write_site


def storeroom(*args: str):
    return CliRunner().invoke(main, list(args))


def test_serve_documents_itself_with_an_example():
    result = storeroom("dashboard", "serve", "--help")
    assert result.exit_code == 0
    assert "Example: storeroom dashboard serve --config" in result.output


def test_a_config_that_cannot_be_used_exits_2_and_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.toml"
    result = storeroom("dashboard", "serve", "--config", str(missing))
    assert result.exit_code == 2
    assert f"{missing}: no such config file" in result.output


def test_a_missing_broker_password_exits_2_with_the_reason(tmp_path):
    config = write_site(tmp_path)  # a fresh site: no secrets generated yet
    result = storeroom("dashboard", "serve", "--config", str(config))
    assert result.exit_code == 2
    assert "dashboard" in result.output


@pytest.mark.parametrize("option", ["--listen", "--broker"])
def test_an_address_that_is_not_host_port_is_refused(tmp_path, option):
    result = storeroom("dashboard", "serve", "--config", str(write_site(tmp_path)), option, "8080")
    assert result.exit_code == 2
    assert "'8080' is not HOST:PORT" in result.output


def get_json(url: str, token: str) -> dict | None:
    try:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=2) as answer:
            return json.load(answer)
    except OSError:
        return None


@pytest.mark.slow
def test_serve_answers_over_http_takes_messages_in_and_stops_on_sigterm(site, broker, tmp_path):
    config = Path(site.source)
    port = free_port()
    log = tmp_path / "dashboard.log"
    command = [sys.executable, "-m", "storeroom", "dashboard", "serve", "--config", str(config),
               "--broker", f"{broker.host}:{broker.port}", "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    with log.open("wb") as output:
        serving = subprocess.Popen(command, stderr=output, stdout=output, preexec_fn=die_with_parent)
    add_user(site.dashboard_database, "fatima", "facilities")
    token = api_token(site.dashboard_database, "fatima")
    try:
        rooms_url = f"http://127.0.0.1:{port}/api/rooms"
        wait_until(lambda: get_json(rooms_url, token), timeout=30, what="the dashboard to answer")
        wait_until(lambda: "connected to broker" in log.read_text(), what="the ingest to connect")
        assert f"listening on http://127.0.0.1:{port}/" in log.read_text()

        gateway = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="gw-east")
        gateway.username_pw_set("gw-east", broker.password("gw-east"))
        gateway.connect(broker.host, broker.port)
        gateway.loop_start()
        reading = protocol.Reading(id="r1", seq=1, ts=protocol.utc_now(), room="east-stack", sensor="dht-1",
                                   state="ok", temperature_c=19.5, humidity_rh=52.5)  # fmt: skip
        wait_until(lambda: "subscribing" in log.read_text(), what="the subscription")
        gateway.publish(protocol.Topics("demo", "gw-east").telemetry("east-stack", "dht-1"), reading.to_json(), qos=1)
        east = wait_until(
            lambda: [r for r in get_json(rooms_url, token)["rooms"] if r["id"] == "east-stack" and r["humidity_rh"]],
            what="the reading on /api/rooms",
        )[0]
        assert (east["temperature_c"], east["humidity_rh"], east["stale"]) == (19.5, 52.5, False)
        gateway.loop_stop()
        gateway.disconnect()

        serving.send_signal(signal.SIGTERM)
        assert serving.wait(15) == 0
        assert "stopped" in log.read_text()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
