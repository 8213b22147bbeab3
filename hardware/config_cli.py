"""`storeroom config check FILE`: validate a site config without starting anything."""

from __future__ import annotations

import click

from hardware.config import ConfigError, SiteConfig, load


def load_or_exit(path: str) -> SiteConfig:
    """The site config at `path`, or its refusal on stderr and exit 2: every command's way in."""
    try:
        return load(path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None


@click.group()
def config() -> None:
    """Site config files."""


@config.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Validate PATH and summarise it; exit 2 with the reasons when it is not usable.

    Example: storeroom config check hardware/configs/demo.toml
    """
    site = load_or_exit(path)
    rooms = ", ".join(f"{r.id} ({r.gateway})" for r in site.rooms)
    click.echo(f"{path}: ok: site {site.site.id}, {len(site.gateways)} gateway(s), rooms: {rooms}")
