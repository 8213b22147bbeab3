"""The `storeroom` command. Each area registers its own click group; they load only when used, so
`storeroom gateway ...` on a Pi never imports Flask and `storeroom dashboard ...` never touches GPIO."""

from __future__ import annotations

import importlib

import click

from storeroom import __version__

# name -> "module:attribute" of a click command; imported on first use.
SUBCOMMANDS = {
    "demo": ("storeroom.demo:demo", "Run a simulated storeroom: broker, gateways and dashboard."),
    "gateway": ("gateway.cli:gateway", "Run and inspect a gateway (the daemon on each Pi)."),
    "dashboard": ("dashboard.cli:dashboard", "Serve the dashboard and manage its database."),
    "audit": ("dashboard.cli:audit", "Verify the dashboard's tamper-evident audit trail."),
    "broker": ("hardware.broker_cli:broker", "Run a Mosquitto broker with the site's accounts and ACL."),
    "config": ("hardware.config_cli:config", "Check a site config file."),
    "rfid": ("rfid.cli:rfid", "Encode and decode the storeroom's RFID tags (docs/TAGS.md)."),
    "sim": ("storeroom.sim_cli:sim", "Run named scenarios on the accelerated simulated storeroom."),
    "climate": ("sensors.cli:climate", "Preservation metrics of a climate record (PI, TWPI, EMC, mould)."),
    "vision": ("vision.cli:vision", "Correct copy-stand photos into dossier pages; simulate the stand."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, _, attribute = SUBCOMMANDS[cmd_name][0].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # List subcommands from the table so `storeroom --help` imports none of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in sorted(SUBCOMMANDS.items())])


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="storeroom")
def main() -> None:
    """Edge controller for archive storerooms of personnel dossiers."""
