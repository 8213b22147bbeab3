"""Helpers for tests that run real parts: site configs on disk, gateway processes, polling."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from hardware.broker import free_port
from hardware.config import SiteConfig, load
from hardware.process import die_with_parent

DEMO = Path(__file__).parents[1] / "hardware" / "configs" / "demo.toml"
T = TypeVar("T")


def write_site(
    folder: Path,
    *,
    speed: float = 1.0,
    interval_s: float = 5.0,
    door_openings_per_hour: float = 6.0,
    port: int = 1883,
    stand_sessions_per_hour: float = 0.0,
    warn_free_mb: float = 0,
    min_free_mb: float = 0,
) -> Path:
    """The demo site as a file in `folder`, with its storage there and the clock and rates given.

    The copy stand's simulated keeper stays away unless asked: rendering 12 MP photos is costly.
    The disk limits are off unless asked, so a test machine short of disk space sees no `disk_low` alerts.
    """
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace('dir = "../../var/demo"', f'dir = "{folder / "data"}"')
    text = re.sub(r"^speed = .*$", f"speed = {float(speed)}", text, flags=re.M)
    text = re.sub(r"^interval_s = .*$", f"interval_s = {float(interval_s)}", text, flags=re.M)
    text = re.sub(
        r"^door_openings_per_hour = .*$", f"door_openings_per_hour = {float(door_openings_per_hour)}", text, flags=re.M
    )
    text = re.sub(r"^port = 1883.*$", f"port = {port}", text, flags=re.M)
    stands = f"stand_sessions_per_hour = {float(stand_sessions_per_hour)}"
    text = re.sub(r"^stand_sessions_per_hour = .*$", stands, text, flags=re.M)
    text = re.sub(r"^station_listen = .*$", 'station_listen = "127.0.0.1:0"', text, flags=re.M)  # any free port
    # The dashboard's own free port, so a test's gateway never sends its page uploads (and its password) to
    # whatever else listens on 8080, such as a demo running beside the tests.
    text = re.sub(r'^listen = "127.0.0.1:8080"$', f'listen = "127.0.0.1:{free_port()}"', text, flags=re.M)
    text = re.sub(r"^warn_free_mb = .*$", f"warn_free_mb = {warn_free_mb}", text, flags=re.M)
    text = re.sub(r"^min_free_mb = .*$", f"min_free_mb = {min_free_mb}", text, flags=re.M)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(check: Callable[[], T], timeout: float = 60.0, what: str = "condition", every: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class GatewayProcess:
    """`storeroom gateway run` as a child process, the way it runs on a Pi."""

    def __init__(self, config_path: Path, gateway_id: str, broker_port: int) -> None:
        self.config_path = config_path
        self.gateway_id = gateway_id
        self.broker_port = broker_port
        self.site: SiteConfig = load(config_path)
        self.log = config_path.parent / f"{gateway_id}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> GatewayProcess:
        command = [
            sys.executable,
            "-m",
            "storeroom",
            "gateway",
            "run",
            "--config",
            str(self.config_path),
            "--gateway",
            self.gateway_id,
            "--broker",
            f"127.0.0.1:{self.broker_port}",
            "--verbose",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, preexec_fn=die_with_parent)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def outbox(self) -> Path:
        return self.site.outbox_path(self.gateway_id)

    def outbox_counts(self) -> tuple[int, int]:
        """(messages waiting, last seq given out), read from the outbox file as another process would."""
        if not self.outbox.exists():
            return 0, 0
        with sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True, timeout=5) as db:
            try:
                pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
                row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            except sqlite3.OperationalError:  # the gateway has not created its tables yet
                return 0, 0
        return pending, (row[0] if row else 0)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


PASSWORD = "correct horse battery"


def add_user(database: Path, name: str, role: str, password: str = PASSWORD) -> None:
    """A dashboard user, added as `storeroom dashboard user add` does."""
    from dashboard.users import Users, connect

    conn = connect(database, migrate_schema=True)
    try:
        Users(conn).add(name, role, password)
    finally:
        conn.close()


def api_token(database: Path, name: str) -> str:
    from dashboard.users import Users, connect

    conn = connect(database, migrate_schema=True)
    try:
        return Users(conn).new_token(name)
    finally:
        conn.close()


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a CSRF token"
    return found.group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log a Flask test client in through the login form, CSRF token and all."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def login_page(page, base_url: str, name: str, password: str = PASSWORD) -> None:
    """Log a Playwright page in the way a person does."""
    page.goto(base_url.rstrip("/") + "/login")
    page.fill('input[name="username"]', name)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)


def send_reading(store, seq: int, humidity: float = 58.6, *, age_s: float = 0.0, temperature: float = 21.3) -> None:
    """An east-stack reading taken `age_s` ago, fed to a dashboard Store as the ingest would."""
    from datetime import timedelta

    from gateway import protocol

    ts = protocol.utc_now() - timedelta(seconds=age_s)
    reading = protocol.Reading(
        id=f"r{seq}",
        seq=seq,
        ts=ts,
        room="east-stack",
        sensor="dht-1",
        state="ok",
        temperature_c=temperature,
        humidity_rh=humidity,
    )
    store.ingest(protocol.Topics("demo", "gw-east").telemetry("east-stack", "dht-1"), reading.to_json(), received=ts)


class RunningDemo:
    """`storeroom demo` as a child process, and what it printed (`Dashboard`, `MQTT`, `Users`, `Copy stand`)."""

    def __init__(self, process: subprocess.Popen, lines: dict[str, str], config_path: Path) -> None:
        self.process, self.lines, self.config_path = process, lines, config_path

    @property
    def dashboard(self) -> str:
        return self.lines["Dashboard"]

    @property
    def mqtt(self) -> str:
        return self.lines["MQTT"]

    @property
    def passwords(self) -> dict[str, str]:
        return dict(pair.split(":", 1) for pair in self.lines["Users"].split())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_demo(folder: Path, config_path: Path) -> RunningDemo:
    """Run `storeroom demo` on `config_path` and read its banner (within 90 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "storeroom", "demo", "--config", str(config_path), "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=(folder / "demo.log").open("wb"),
        text=True,
        preexec_fn=die_with_parent,
    )
    lines: dict[str, str] = {}
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while not {"Dashboard", "MQTT", "Users"} <= lines.keys():
        line = process.stdout.readline()
        assert line, f"demo exited early: {(folder / 'demo.log').read_text()}"
        assert time.monotonic() < deadline, "demo did not print its URLs within 90 s"
        key, _, value = line.partition(": ")
        lines.setdefault(key, value.strip())
    return RunningDemo(process, lines, config_path)


class SlowCard:
    """vision.outputs writing a page's files only when the test lets it: a card that takes its time.

    The real writer, held at a gate before it starts; `writing` is set once a page's files are due.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from vision import outputs  # here: most tests never write a page

        self.writing = threading.Event()
        self._go = threading.Event()
        self._go.set()
        encode_page = outputs.encode_page

        def held(*args: object, **kwargs: object) -> None:
            self.writing.set()
            if not self._go.wait(180):
                raise TimeoutError("the test never let the page's files be written")
            encode_page(*args, **kwargs)

        monkeypatch.setattr(outputs, "encode_page", held)

    def hold(self) -> None:
        self.writing.clear()
        self._go.clear()

    def release(self) -> None:
        self._go.set()


def full_card(folder: Path, name: str) -> None:
    """From now on writing `name` in `folder` fails as on a full card ([Errno 28] No space left on device): its
    temporary file is a link to /dev/full. The writer removes its half-written file, the link with it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.part").symlink_to("/dev/full")
