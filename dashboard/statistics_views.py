"""Statistics of dossier tracking, as tables with bar charts, each exportable as CSV.

GET /statistics/              loans per month and by unit, overdue, stocktake coverage and findings,
                              dossiers per room and state
GET /statistics/<name>.csv    one of those tables as CSV
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template
from flask_babel import gettext as _

from dashboard import statistics
from dashboard.access import audit
from dashboard.connection import store
from dashboard.dossiers import locations
from gateway.protocol import utc_now

bp = Blueprint("statistics", __name__, url_prefix="/statistics")


def _tables() -> list[statistics.Table]:
    site = current_app.config["SITE"]
    return statistics.all_tables(store().db.conn, locations(), site.tracking.stocktake_due_days, utc_now())


def titles() -> dict[str, str]:
    return {
        "loans_per_month": _("Loans per month"),
        "loans_by_unit": _("Dossiers lent, by unit"),
        "overdue": _("Overdue loans"),
        "stocktake_coverage": _("Stocktake coverage"),
        "stocktake_findings": _("Stocktake findings"),
        "dossiers_by_room": _("Dossiers per room and state"),
    }


@bp.get("/")
def page() -> str:
    return render_template("statistics.html", tables=_tables(), titles=titles(), bars=statistics.bars)


@bp.get("/<name>.csv")
def export(name: str) -> Response:
    table = next((t for t in _tables() if t.name == name), None)
    if table is None:
        abort(404)
    audit("statistics_exported", name)
    return Response(table.csv(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})  # fmt: skip


def column_labels() -> dict[str, str]:
    return {
        "month": _("Month"),
        "loans": _("Loans"),
        "dossiers": _("Dossiers"),
        "unit": _("Unit"),
        "loan": _("No."),
        "code": _("Code"),
        "borrower": _("Requester"),
        "due": _("Due"),
        "checked_out": _("checked out"),
        "room": _("Room"),
        "shelves": _("Shelves"),
        "checked_in_time": _("Checked in time"),
        "stocktake": _("Stocktake"),
        "scope": _("Scope"),
        "closed": _("Closed"),
        "found": _("found"),
        "missing": _("missing"),
        "misplaced": _("misplaced"),
        "unknown": _("unknown tag"),
        "on_loan": _("out on loan"),
        "on_shelf": _("on its shelf"),
    }


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"column_labels": column_labels}
