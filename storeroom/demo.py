"""`storeroom demo`: a simulated storeroom with its own broker, gateways and dashboard.

Each part runs as it would in a real site: Mosquitto with per-account passwords and an ACL, one
`storeroom gateway run` process per gateway (each stands for one Pi, on the simulated world), and
`storeroom dashboard serve`. The demo only supervises them: it prints where to look, stops everything
on Ctrl-C or SIGTERM, and stops everything if one part dies, so no process is left behind.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import click

from dashboard import loans, stocktake
from dashboard.audit import record
from dashboard.locations import Locations
from dashboard.register import import_csv
from dashboard.users import ROLES, Users, connect, ensure_demo_users
from hardware.broker import Broker, BrokerError, ensure_passwords
from hardware.config import DEMO_CONFIG, SiteConfig
from hardware.config_cli import load_or_exit
from hardware.process import StopSignals, die_with_parent
from hardware.shelving import Shelving
from rfid.sim_keeper import DOSSIERS, dossier_code
from storeroom.access_demo import publish_retained, seed_dashboard

SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军")
UNITS = ("人事处", "财务处", "办公室", "档案室")


def demo_register(site: SiteConfig) -> bytes:
    """A register of the dossiers the simulated keeper scans (fictional names), as a CSV would come in,
    each with its home shelf in the simulated storeroom (hardware/shelving.py)."""
    shelving = Shelving(site, DOSSIERS)
    lines = ["档号,姓名,单位,入档年份,存放位置"]
    for n in range(1, DOSSIERS + 1):
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)]
        home = shelving.home(n) or ""
        lines.append(f"{dossier_code(n)},{name},{UNITS[n % len(UNITS)]},{2000 + n % 25},{home}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there on loopback, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def wait_for_http(url: str, timeout: float, alive: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if alive.poll() is not None:
            raise RuntimeError(f"the dashboard exited with code {alive.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


class Demo:
    """The running parts of a demo site; `start()`, then `wait(stop)`, then `stop()`."""

    def __init__(self, site: SiteConfig, config_path: Path, *, listen_port: int) -> None:
        self.site = site
        self.config_path = config_path
        self.listen_port = listen_port
        self.broker = Broker(site)
        self.children: dict[str, subprocess.Popen] = {}
        self.stations = {
            stand.gateway: free_port(int(stand.station_listen.rpartition(":")[2]) or 8090) for stand in site.copy_stands
        }

    def start(self) -> dict[str, str]:
        """Start every part; return the passwords of demo users created now (printed once)."""
        ensure_passwords(self.site)
        conn = connect(self.site.dashboard_database, migrate_schema=True)
        try:
            created = ensure_demo_users(conn)
            for name in created:
                record(conn, actor="demo", action="user_added", obj=name, detail={"role": name})
            if not conn.execute("SELECT 1 FROM dossiers LIMIT 1").fetchone():
                places = Locations(self.site)
                report = import_csv(conn, demo_register(self.site), "demo register", locations=places)
                record(
                    conn, actor="demo", action="register_import", obj="demo register", detail={"added": report.added}
                )
            if not conn.execute("SELECT 1 FROM loan_requests LIMIT 1").fetchone():
                self._demo_loan(conn)
            if not conn.execute("SELECT 1 FROM stocktakes WHERE closed IS NULL LIMIT 1").fetchone():
                # The simulated keeper takes stock of the east stack's shelves, one now and then (rfid/sim_keeper.py).
                number = stocktake.start(conn, Locations(self.site), "east-stack", by="demo", at=datetime.now(UTC))
                record(conn, actor="demo", action="stocktake_started", obj=f"stocktake/{number}")
            permissions = seed_dashboard(conn, self.site)
        finally:
            conn.close()
        self.broker.start()
        publish_retained(self.site, permissions, self.broker.host, self.broker.port)
        broker = f"{self.broker.host}:{self.broker.port}"
        # The dashboard first: it serves pages only once its ingest has subscribed, so the gateways'
        # first messages reach it (later, its persistent session keeps them while it is away).
        self._spawn("dashboard", "dashboard", "serve", "--broker", broker, "--listen", f"127.0.0.1:{self.listen_port}")
        wait_for_http(self.dashboard_url, 60, self.children["dashboard"])
        for gateway in self.site.gateway_ids:
            station = [f"--station-listen=127.0.0.1:{self.stations[gateway]}"] if gateway in self.stations else []
            # Page files go to the dashboard where it really listens (another port if 8080 was taken).
            dashboard = self.dashboard_url.rstrip("/")
            self._spawn(
                gateway, "gateway", "run", "--gateway", gateway, "--broker", broker, "--dashboard", dashboard, *station
            )
        return created

    def _demo_loan(self, conn) -> None:
        """A loan the keeper asked for and the archivist approved: the dashboard sends it to the gateways when
        it starts, and the simulated keeper checks the dossier out at the desk and brings it back later."""
        users = Users(conn)
        keeper, archivist = users.get("keeper"), users.get("archivist")
        now = datetime.now(UTC)
        number = loans.request(conn, self.site, user_id=keeper.id, user=keeper.name, codes=[dossier_code(2)],
                               purpose="demo: promotion review", days=None, at=now)  # fmt: skip
        loans.decide(conn, number, user_id=archivist.id, user=archivist.name, approve=True, note="demo", at=now)
        record(conn, actor="demo", action="loan_approved", obj=f"loan/{number}", detail={"codes": dossier_code(2)})

    @property
    def station_urls(self) -> list[str]:
        """The copy stands' touchscreen pages (one stand per gateway in a demo site)."""
        return [f"http://127.0.0.1:{port}/" for port in self.stations.values()]

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}/"

    def _spawn(self, name: str, *args: str) -> None:
        command = [sys.executable, "-m", "storeroom", *args[:2], "--config", str(self.config_path), *args[2:]]
        self.children[name] = subprocess.Popen(command, preexec_fn=die_with_parent)

    def wait(self, stop: threading.Event) -> str | None:
        """Block until `stop` is set or a part dies; return the name of a part that died."""
        while not stop.wait(0.5):
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
            if not self.broker.running:
                return "broker"
        return None

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.broker.stop()


@click.command()
@click.option(
    "--config",
    "config_path",
    default=str(DEMO_CONFIG),
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Site config (TOML) of a simulated site.",
)
@click.option("--port", default=8080, show_default=True, help="Dashboard port (another free one if taken).")
def demo(config_path: str, port: int) -> None:
    """Run a simulated storeroom until Ctrl-C: broker, one process per gateway, dashboard.

    Example: storeroom demo
    """
    site = load_or_exit(config_path)
    if site.hardware.backend != "sim":
        click.echo(f"{config_path}: the demo runs simulated sites only (hardware.backend = 'sim')", err=True)
        raise SystemExit(2)

    stop = StopSignals().event
    running = Demo(site, Path(config_path).resolve(), listen_port=free_port(port))
    try:
        created = running.start()
        click.echo(f"Dashboard: {running.dashboard_url}")
        if created:
            click.echo("Users: " + " ".join(f"{name}:{password}" for name, password in created.items()))
            click.echo("       (user:password, one per role; shown this once, kept in the dashboard database)")
        else:
            click.echo(f"Users: {', '.join(ROLES)} (passwords were shown when they were made; reset one with")
            click.echo(f"       storeroom dashboard user passwd NAME --config {config_path})")
        for url in running.station_urls:
            click.echo(f"Copy stand: {url}   (the touchscreen beside the stand; a simulated keeper digitizes dossiers)")
        click.echo(f"MQTT: {running.broker.url('viewer')}")
        click.echo(f"Data: {site.storage.dir}   (Ctrl-C stops everything)")
        died = running.wait(stop)
        if died:
            click.echo(f"demo: {died} stopped unexpectedly; stopping the rest", err=True)
    except (BrokerError, RuntimeError, OSError) as exc:
        click.echo(f"demo: {exc}", err=True)
        died = "start-up"
    finally:
        running.stop()
    click.echo("demo: stopped")
    if died:
        raise SystemExit(1)
