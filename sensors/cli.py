"""`storeroom climate ...`: preservation metrics of a climate record, computable by hand from the same formulas.

    storeroom climate metrics readings.csv --json

The CSV has a header `ts,temperature_c,rh_pct` (more columns are ignored); `ts` is ISO 8601 (with a time
zone, or UTC) or epoch seconds. Rows that cannot be read are listed with their line and reason and left
out; the rest are still used. Exit 2 when no row is usable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from sensors.preservation import Point, metrics

COLUMNS = ("ts", "temperature_c", "rh_pct")
MAX_REFUSED_SHOWN = 20


class RowError(ValueError):
    pass


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: the file cannot give any metrics."""
    click.echo(message, err=True)
    sys.exit(2)


def parse_ts(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"ts {text!r} is neither ISO 8601 nor epoch seconds") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise RowError(f"{name} {value} is outside {low}..{high}")
    return value


def read_points(text: str) -> tuple[list[Point], list[dict[str, object]]]:
    """Points in time order (a repeated ts keeps its first row) and the refused rows with their reasons."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        fail(f"the CSV needs the columns {', '.join(COLUMNS)}; missing: {', '.join(missing)}")
    points: dict[float, Point] = {}
    refused: list[dict[str, object]] = []
    for row in reader:
        line = reader.line_num
        try:
            if any(row.get(c) is None for c in COLUMNS):
                raise RowError("too few fields")
            ts = parse_ts(row["ts"])
            point = Point(
                ts,
                parse_number("temperature_c", row["temperature_c"], -50.0, 80.0),
                parse_number("rh_pct", row["rh_pct"], 0.0, 100.0),
            )
        except RowError as exc:
            refused.append({"line": line, "reason": str(exc)})
            continue
        points.setdefault(ts, point)
    return [points[ts] for ts in sorted(points)], refused


@click.group()
def climate() -> None:
    """Climate records: the Image Permanence Institute's preservation metrics."""


@climate.command("metrics")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def metrics_command(csv_file: Path, as_json: bool) -> None:
    """PI and TWPI, paper's EMC, dew point and mould risk of CSV_FILE (ts,temperature_c,rh_pct)."""
    try:
        raw = sys.stdin.buffer.read() if str(csv_file) == "-" else csv_file.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        fail(f"{csv_file}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{csv_file}: not UTF-8 text")
    points, refused = read_points(text)
    if not points:
        click.echo(f"{csv_file}: no usable rows ({len(refused)} refused)", err=True)
        for row in refused[:MAX_REFUSED_SHOWN]:
            click.echo(f"  line {row['line']}: {row['reason']}", err=True)
        sys.exit(2)
    result = metrics(points)
    result["start"] = datetime.fromtimestamp(points[0].ts, UTC).isoformat().replace("+00:00", "Z")
    result["end"] = datetime.fromtimestamp(points[-1].ts, UTC).isoformat().replace("+00:00", "Z")
    result["refused_rows"] = refused
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    mould = result["mold_risk"]
    click.echo(f"{result['readings']} readings over {result['hours']} h ({result['start']} to {result['end']})")
    for name, unit in (("temperature_c", "°C"), ("rh_pct", "% RH"), ("emc_pct", "% EMC"), ("dew_point_c", "°C dew")):
        s = result[name]
        click.echo(f"  {name:14} min {s['min']:>7} mean {s['mean']:>7} max {s['max']:>7} {unit}")
    click.echo(f"  TWPI           {result['twpi_years']} years ({result['twpi_rating']})")
    click.echo(f"  mould index    max {mould['index_max']} ({mould['rating']}; {mould['model']})")
    for row in refused[:MAX_REFUSED_SHOWN]:
        click.echo(f"  refused line {row['line']}: {row['reason']}", err=True)
