"""Statistics of dossier tracking: loans per month and by unit, overdue loans, stocktake coverage and findings,
dossiers per room and state. Each is a table (title, columns, rows) that the page shows with a bar chart and
exports as CSV.

States per room come from the register and what is known in bulk: dossiers out on loan now (the gateways'
checkout events), and those the last closed stocktake of their shelf found missing or misplaced; the rest
count as on their shelves.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from dashboard import loans, stocktake
from dashboard.locations import Locations


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]
    chart: int | None = None
    """The column drawn as bars (None: no chart)."""

    def csv(self) -> str:
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


def loans_per_month(conn: sqlite3.Connection) -> Table:
    rows = conn.execute(
        "SELECT substr(r.decided_at, 1, 7) AS month, count(DISTINCT r.id), count(i.code) FROM loan_requests r"
        " JOIN loan_items i ON i.request = r.id WHERE r.state IN ('approved', 'closed') GROUP BY month ORDER BY month"
    ).fetchall()
    return Table("loans_per_month", ["month", "loans", "dossiers"], [list(r) for r in rows], chart=2)


def loans_by_unit(conn: sqlite3.Connection) -> Table:
    rows = conn.execute(
        "SELECT d.unit, count(*) FROM loan_requests r JOIN loan_items i ON i.request = r.id"
        " JOIN dossiers d ON d.code = i.code WHERE r.state IN ('approved', 'closed') GROUP BY d.unit"
        " ORDER BY count(*) DESC, d.unit"
    ).fetchall()
    return Table("loans_by_unit", ["unit", "dossiers"], [list(r) for r in rows], chart=1)


def overdue(conn: sqlite3.Connection, now: datetime) -> Table:
    rows = []
    for loan in loans.requests(conn, now, limit=10_000):
        for item in loan["items"]:
            if item["overdue"]:
                rows.append([loan["id"], item["code"], loan["requester"], loan["due"], item["since"]])
    return Table("overdue", ["loan", "code", "borrower", "due", "checked_out"], rows)


def stocktake_coverage(conn: sqlite3.Connection, locations: Locations, due_days: int, now: datetime) -> Table:
    covered = stocktake.coverage(stocktake.shelf_checks(conn, locations, due_days, now))
    rows = [[room, c["shelves"], c["checked"], c["due"]] for room, c in covered.items()]
    return Table("stocktake_coverage", ["room", "shelves", "checked_in_time", "due"], rows, chart=2)


def stocktake_findings(conn: sqlite3.Connection) -> Table:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for number, outcome, count in conn.execute(
        "SELECT stocktake, outcome, count(*) FROM stocktake_findings GROUP BY stocktake, outcome"
    ):
        counts[number][outcome] = count
    rows = []
    for number, scope, closed in conn.execute(
        "SELECT id, scope, closed FROM stocktakes WHERE closed IS NOT NULL ORDER BY id"
    ):
        c = counts[number]
        rows.append([number, scope, closed, *(c[o] for o in stocktake.OUTCOMES)])
    return Table("stocktake_findings", ["stocktake", "scope", "closed", *stocktake.OUTCOMES], rows)


def dossiers_by_room_and_state(conn: sqlite3.Connection) -> Table:
    totals = dict(conn.execute("SELECT coalesce(home_room, ''), count(*) FROM dossiers GROUP BY home_room"))
    latest = conn.execute(
        "SELECT d.home_room, f.outcome FROM stocktake_findings f JOIN dossiers d ON d.code = f.code"
        " WHERE f.outcome IN ('missing', 'misplaced') AND f.stocktake = (SELECT max(g.stocktake)"
        " FROM stocktake_findings g WHERE g.code = f.code)"
    ).fetchall()
    state: dict[str, Counter[str]] = defaultdict(Counter)
    for room, outcome in latest:
        state[room or ""][outcome] += 1
    out_codes = set()
    for kind, data in conn.execute("SELECT kind, data FROM events WHERE kind IN (?, ?) ORDER BY ts, seq", loans.EVENTS):
        code = json.loads(data).get("code")
        if kind == "dossier_checked_out":
            out_codes.add(code)
        else:
            out_codes.discard(code)
    if out_codes:
        marks = ",".join("?" * len(out_codes))
        for room, count in conn.execute(
            f"SELECT coalesce(home_room, ''), count(*) FROM dossiers WHERE code IN ({marks}) GROUP BY home_room",
            sorted(out_codes),
        ):
            state[room]["on_loan"] += count
    rows = []
    for room, total in sorted(totals.items()):
        s = state[room]
        on_shelf = total - s["on_loan"] - s["missing"] - s["misplaced"]
        rows.append([room or "—", total, on_shelf, s["on_loan"], s["missing"], s["misplaced"]])
    return Table("dossiers_by_room", ["room", "dossiers", "on_shelf", "on_loan", "missing", "misplaced"], rows, 1)


def all_tables(conn: sqlite3.Connection, locations: Locations, due_days: int, now: datetime) -> list[Table]:
    return [
        loans_per_month(conn),
        loans_by_unit(conn),
        overdue(conn, now),
        stocktake_coverage(conn, locations, due_days, now),
        stocktake_findings(conn),
        dossiers_by_room_and_state(conn),
    ]


def bars(table: Table, width: int = 480, bar: int = 18) -> Markup:
    """The table's chart column as horizontal bars, an inline SVG (attributes only, no inline style)."""
    if table.chart is None or not table.rows:
        return Markup("")
    values = [float(row[table.chart] or 0) for row in table.rows]
    top = max(values) or 1.0
    label_w, height = 140, bar * len(values) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" data-table="{table.name}" role="img"'
             f' viewBox="0 0 {width} {height}" width="{width}" height="{height}">']  # fmt: skip
    for i, (row, value) in enumerate(zip(table.rows, values, strict=True)):
        y = i * bar + 2
        length = (width - label_w - 50) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 6}" text-anchor="end" font-size="12">{escape(row[0])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar - 4}" fill="#4285f4"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + bar - 6}" font-size="12">{value:g}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
