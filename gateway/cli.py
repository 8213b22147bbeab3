"""`storeroom gateway ...`: run the gateway daemon and look into its outbox and its queue of page files."""

from __future__ import annotations

import logging

import click

from hardware.config import SiteConfig
from hardware.config_cli import load_or_exit
from hardware.process import StopSignals


def _gateway_id(site: SiteConfig, chosen: str | None) -> str:
    if chosen is None:
        if len(site.gateways) != 1:
            raise click.UsageError(f"{site.source} has several gateways; choose one with --gateway {site.gateway_ids}")
        return site.gateways[0].id
    if chosen not in site.gateway_ids:
        raise click.UsageError(f"{site.source} has no gateway {chosen!r}; it has {site.gateway_ids}")
    return chosen


def _host_port(value: str | None, option: str = "--broker") -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=option)
    return host, int(port)


def _with_upload_url(site: SiteConfig, url: str) -> SiteConfig:
    from pydantic import ValidationError

    from hardware.config import Pages

    try:
        pages = Pages.model_validate({**site.pages.model_dump(), "upload_url": url})
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(f"{url!r}: {message}", param_hint="--dashboard") from None
    return site.model_copy(update={"pages": pages})


config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Site config (TOML)."
)
gateway_option = click.option("--gateway", "gateway_id", help="Gateway id (needed when the site has several).")


@click.group()
def gateway() -> None:
    """The daemon on each Pi."""


@gateway.command()
@config_option
@gateway_option
@click.option("--broker", help="Override the config's broker as HOST:PORT.")
@click.option("--station-listen", help="Override where the copy stand's station page listens, as HOST:PORT.")
@click.option("--dashboard", help="Override where page files are uploaded (pages.upload_url), e.g. http://HOST:PORT.")
@click.option("-v", "--verbose", is_flag=True, help="Log every connection and command.")
def run(
    config_path: str,
    gateway_id: str | None,
    broker: str | None,
    station_listen: str | None,
    dashboard: str | None,
    verbose: bool,
) -> None:
    """Run a gateway until SIGTERM or Ctrl-C: sample sensors, control the climate, publish everything.

    Example: storeroom gateway run --config hardware/configs/demo.toml --gateway gw-east
    """
    from gateway.service import GatewayService
    from hardware.broker import BrokerError, read_password

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    site = load_or_exit(config_path)
    gid = _gateway_id(site, gateway_id)
    host, port = _host_port(broker)
    if dashboard:
        site = _with_upload_url(site, dashboard)
    try:
        password = read_password(site, gid)
    except BrokerError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    if station_listen is not None:
        _host_port(station_listen, "--station-listen")
    service = GatewayService(
        site, gid, password=password, broker_host=host, broker_port=port, station_listen=station_listen
    )
    stop = StopSignals().event
    click.echo(f"gateway {gid}: running (outbox {service.outbox.path}); Ctrl-C stops it", err=True)
    for url in service.stands.station_urls():
        click.echo(f"gateway {gid}: copy stand station page at {url}", err=True)
    service.run(stop)
    click.echo(f"gateway {gid}: stopped", err=True)


@gateway.command()
@config_option
@gateway_option
def outbox(config_path: str, gateway_id: str | None) -> None:
    """Show a gateway's outbox: messages waiting for the broker and the last seq given out.

    Example: storeroom gateway outbox --config hardware/configs/demo.toml --gateway gw-east
    """
    from gateway.outbox import Outbox

    site = load_or_exit(config_path)
    gid = _gateway_id(site, gateway_id)
    path = site.outbox_path(gid)
    if not path.exists():
        click.echo(f"{gid}: no outbox yet at {path}")
        return
    box = Outbox(path)
    try:
        click.echo(f"{gid}: {box.pending()} message(s) waiting, last seq {box.last_seq()}, outbox {path}")
    finally:
        box.close()


@gateway.command()
@config_option
@gateway_option
def uploads(config_path: str, gateway_id: str | None) -> None:
    """Show a gateway's page files waiting for the dashboard, oldest first.

    Example: storeroom gateway uploads --config hardware/configs/demo.toml --gateway gw-east
    """
    from gateway.uploads import queue_path, queued

    site = load_or_exit(config_path)
    gid = _gateway_id(site, gateway_id)
    path = queue_path(site, gid)
    waiting = queued(path)
    size = sum(q.bytes for q in waiting)
    click.echo(f"{gid}: {len(waiting)} file(s) waiting ({size / 1e6:.1f} MB) for {site.upload_url}, queue {path}")
    for q in waiting:
        where = f"page {q.page}" if q.page is not None else "dossier"
        click.echo(f"  {q.dossier} {where} {q.kind} {q.name} {q.bytes} bytes sha256 {q.sha256}")
        if q.attempts:
            click.echo(f"    tried {q.attempts} time(s); last: {q.last_error}")
