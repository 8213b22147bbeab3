"""`storeroom dashboard ...`: serve the dashboard."""

from __future__ import annotations

import logging

import click

from hardware.config import ConfigError, SiteConfig, load


def _site(path: str) -> SiteConfig:
    try:
        return load(path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None


def _host_port(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=option)
    return host.strip("[]"), int(port)


@click.group()
def dashboard() -> None:
    """The web dashboard on the central server."""


@dashboard.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Site config (TOML).")
@click.option("--broker", help="Broker as HOST:PORT (default: the config's broker).")
@click.option("--listen", help="Serve on HOST:PORT (default: the config's dashboard.listen).")
@click.option("-v", "--verbose", is_flag=True, help="Log in more detail (debug level).")
def serve(config_path: str, broker: str | None, listen: str | None, verbose: bool) -> None:
    """Serve the dashboard and fill its database from the broker, until SIGTERM or Ctrl-C.

    The broker password of the "dashboard" account is read from the site's secrets folder.

    Example: storeroom dashboard serve --config hardware/configs/demo.toml --listen 127.0.0.1:8080
    """
    from hardware.broker import BrokerError, read_password

    from dashboard.serve import serve as run

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    site = _site(config_path)
    host, port = _host_port(listen or site.dashboard.listen, "--listen")
    broker_host, broker_port = _host_port(broker, "--broker") if broker else (site.broker.host, site.broker.port)
    try:
        password = read_password(site, "dashboard")
    except BrokerError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    try:
        run(site, host=host, port=port, broker_host=broker_host, broker_port=broker_port, password=password)
    except OSError as exc:  # cannot listen, or cannot create the database
        click.echo(f"dashboard: {exc}", err=True)
        raise SystemExit(1) from None
