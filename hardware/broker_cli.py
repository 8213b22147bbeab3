"""`storeroom broker run`: a Mosquitto with the site's accounts and ACL, for a demo or a small site."""

from __future__ import annotations

import click

from hardware.broker import Broker, BrokerError
from hardware.config_cli import load_or_exit
from hardware.process import StopSignals


@click.group()
def broker() -> None:
    """The site's MQTT broker."""


@broker.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Site config (TOML).")
@click.option("--port", type=int, help="Port on 127.0.0.1 (default: the config's, or a free one if taken).")
def run(config_path: str, port: int | None) -> None:
    """Start Mosquitto for the site until Ctrl-C; create missing account passwords first.

    Example: storeroom broker run --config hardware/configs/demo.toml
    """
    site = load_or_exit(config_path)
    stop = StopSignals().event
    try:
        with Broker(site, port=port) as running:
            running.start()
            click.echo(f"MQTT: {running.url('viewer')}", nl=True)
            click.echo(f"passwords: {site.storage.secrets}/<account>.password", err=True)
            while not stop.wait(0.5):
                if not running.running:
                    click.echo(f"mosquitto stopped unexpectedly; see {running.log_file}", err=True)
                    raise SystemExit(1)
    except BrokerError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
