"""`storeroom sim ...`: run named scenarios on the accelerated simulated storeroom.

storeroom sim list
storeroom sim run --scenario humid-summer --hours 168 --report week.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from hardware.config import DEMO_CONFIG
from hardware.config_cli import load_or_exit
from storeroom.scenarios import SCENARIOS, run, summary

MAX_HOURS = 24 * 92


@click.group()
def sim() -> None:
    """Scenarios on the simulated storeroom: a week of climate in seconds, with a report to check."""


@sim.command("list")
def list_scenarios() -> None:
    """The scenarios there are, with what happens in each."""
    for name, scenario in SCENARIOS.items():
        click.echo(f"{name:16} {scenario.description}")


@sim.command("run")
@click.option("--scenario", "name", required=True, type=click.Choice(sorted(SCENARIOS)), help="What happens.")
@click.option("--hours", type=click.FloatRange(min=0.1, max=MAX_HOURS), default=24.0, show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=DEMO_CONFIG, show_default=True)
@click.option("--seed", type=int, help="Change the simulation's seed (default: the config's).")
def run_command(name: str, hours: float, report: Path | None, config_path: Path, seed: int | None) -> None:
    """Run a scenario for HOURS of simulated time and print a summary (and the report to REPORT)."""
    site = load_or_exit(config_path)
    began = time.perf_counter()
    result = run(site, SCENARIOS[name], hours, seed)
    result["wall_s"] = round(time.perf_counter() - began, 2)
    for line in summary(result):
        click.echo(line)
    if report:
        try:
            report.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write the report to {report}: {exc.strerror or exc}") from None
        click.echo(f"report: {report} ({result['wall_s']} s)")
