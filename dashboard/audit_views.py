"""The audit trail for auditors: filter by who, what and when; export what is shown as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request

from dashboard.audit import verify
from dashboard.connection import people

bp = Blueprint("audit", __name__, url_prefix="/audit")
COLUMNS = ("id", "ts", "actor", "action", "object", "remote", "detail", "hash")
LIMIT = 500


def _rows() -> tuple[list[tuple], dict[str, str]]:
    filters = {key: request.args.get(key, "").strip() for key in ("actor", "action", "since", "until")}
    where, params = [], []
    if filters["actor"]:
        where.append("actor = ?")
        params.append(filters["actor"])
    if filters["action"]:
        where.append("action = ?")
        params.append(filters["action"])
    if filters["since"]:
        where.append("ts >= ?")
        params.append(filters["since"])
    if filters["until"]:
        where.append("ts <= ?")
        params.append(filters["until"])
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = people().execute(sql + " ORDER BY id DESC LIMIT ?", [*params, LIMIT]).fetchall()
    return rows, filters


@bp.get("/")
def trail() -> str:
    rows, filters = _rows()
    return render_template("audit.html", rows=rows, filters=filters, verdict=verify(people()), limit=LIMIT)


@bp.get("/export.csv")
def export() -> Response:
    rows, _ = _rows()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    # A BOM so spreadsheet programs in a Chinese locale open it as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit.csv"},
    )
