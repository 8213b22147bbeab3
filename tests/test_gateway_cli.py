"""`storeroom gateway ...` on the command line: what an installer types on a Pi, and what it answers."""

from __future__ import annotations

import subprocess
import sys

from gateway.outbox import Outbox


def storeroom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storeroom", *args], capture_output=True, text=True, timeout=60)


def test_outbox_says_when_there_is_none_yet(site):
    answer = storeroom("gateway", "outbox", "--config", str(site.source), "--gateway", "gw-east")
    assert answer.returncode == 0
    assert "gw-east: no outbox yet" in answer.stdout


def test_outbox_shows_what_waits_for_the_broker(site):
    box = Outbox(site.outbox_path("gw-east"))
    for _ in range(3):
        box.put("storeroom/demo/gw-east/event/x", lambda seq: b"{}")
    box.delivered([1])
    box.close()
    answer = storeroom("gateway", "outbox", "--config", str(site.source), "--gateway", "gw-east")
    assert "gw-east: 2 message(s) waiting, last seq 3" in answer.stdout


def test_a_site_with_several_gateways_needs_one_chosen(site):
    answer = storeroom("gateway", "run", "--config", str(site.source))
    assert answer.returncode == 2
    assert "choose one with --gateway" in answer.stderr


def test_a_bad_config_is_refused_before_anything_starts(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\nid = "Demo Site"\n', encoding="utf-8")
    answer = storeroom("gateway", "run", "--config", str(bad), "--gateway", "gw-east")
    assert answer.returncode == 2
    assert f"{bad}: site.id: String should match pattern" in answer.stderr
    assert f"{bad}: hardware: missing (required)" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_a_gateway_without_its_broker_password_says_where_it_belongs(site):
    (site.storage.secrets / "gw-east.password").unlink()
    answer = storeroom("gateway", "run", "--config", str(site.source), "--gateway", "gw-east")
    assert answer.returncode == 2
    assert "gw-east.password: no broker password for 'gw-east'" in answer.stderr


def test_a_malformed_broker_address_is_refused(site):
    answer = storeroom("gateway", "run", "--config", str(site.source), "--gateway", "gw-east", "--broker", "nowhere")
    assert answer.returncode == 2
    assert "'nowhere' is not HOST:PORT" in answer.stderr


def test_every_command_is_listed_without_importing_it():
    answer = storeroom("--help")
    for name in ("broker", "config", "dashboard", "demo", "gateway"):
        assert f"  {name}" in answer.stdout
