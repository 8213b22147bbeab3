"""Stocktake pages: start one, watch it reconcile as the keeper scans, close it, export its report.

GET  /stocktakes/                 open and recent stocktakes, start one, shelves due for a check
POST /stocktakes/                 start a stocktake of the site, a room, a row or a shelf (keepers)
GET  /stocktakes/<id>             found, missing, misplaced and unknown, as the scans arrive
POST /stocktakes/<id>/close       freeze the findings; the shelves visited count as checked (keepers)
GET  /stocktakes/<id>/report.csv  the report as CSV
GET  /stocktakes/<id>/print       the report as a printable page
GET  /api/stocktakes/<id>         the reconciliation as JSON
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import stocktake
from dashboard.access import audit, current
from dashboard.connection import people, store
from dashboard.dossiers import finding_labels, locations, room_plan
from gateway.protocol import utc_now

bp = Blueprint("stocktakes", __name__, url_prefix="/stocktakes")
api = Blueprint("stocktake_api", __name__, url_prefix="/api/stocktakes")


def _scopes() -> list[tuple[str, str]]:
    """What a stocktake can cover: the site, each room, each row (code, label)."""
    places = locations()
    site = current_app.config["SITE"]
    scopes = [(site.site.id, _("The whole site"))]
    for room in places.rooms:
        scopes.append((room, places.by_code[room].label))
        scopes += [(loc.code, f"{places.by_code[room].label} · {loc.label}") for loc in places.by_code.values()
                   if loc.kind == "row" and loc.room == room]  # fmt: skip
    return scopes


@bp.get("/")
def page() -> str:
    conn = store().db.conn
    site = current_app.config["SITE"]
    shelves = stocktake.shelf_checks(conn, locations(), site.tracking.stocktake_due_days, utc_now())
    due_now = {s["shelf"]: "due" for s in shelves if s["due"]}
    plans = [room_plan(p, {c: m for c, m in due_now.items() if c.startswith(p.room + "/")})
             for p in site.tracking.plans]  # fmt: skip
    return render_template(
        "stocktakes.html",
        plans=plans,
        stocktakes=stocktake.recent(conn),
        scopes=_scopes(),
        coverage=stocktake.coverage(shelves),
        due=[s for s in shelves if s["due"] and s["dossiers"]][:200],
        due_days=site.tracking.stocktake_due_days,
    )


@bp.post("/")
def start() -> Response:
    scope = request.form.get("scope", "").strip() or request.form.get("shelf", "").strip()
    try:
        number = stocktake.start(people(), locations(), scope, by=current().user.name, at=utc_now(),
                                 note=request.form.get("note", ""))  # fmt: skip
    except stocktake.StocktakeError as exc:
        flash(_("Not started: %(reason)s", reason=exc), "error")
        return redirect(url_for("stocktakes.page"))
    audit("stocktake_started", f"stocktake/{number}", scope=scope)
    return redirect(url_for("stocktakes.one", stocktake_id=number))


def _reconciled(stocktake_id: int) -> stocktake.Reconciliation:
    found = stocktake.get(store().db.conn, stocktake_id)
    if found is None:
        abort(404, description=f"no stocktake {stocktake_id}")
    return stocktake.reconcile(store().db.conn, locations(), found, utc_now())


@bp.get("/<int:stocktake_id>")
def one(stocktake_id: int) -> str:
    return render_template("stocktake.html", result=_reconciled(stocktake_id), outcomes=finding_labels(),
                           printable=False)  # fmt: skip


@bp.get("/<int:stocktake_id>/print")
def printable(stocktake_id: int) -> str:
    return render_template("stocktake.html", result=_reconciled(stocktake_id), outcomes=finding_labels(),
                           printable=True)  # fmt: skip


@bp.get("/<int:stocktake_id>/report.csv")
def report(stocktake_id: int) -> Response:
    result = _reconciled(stocktake_id)
    audit("stocktake_exported", f"stocktake/{stocktake_id}")
    return Response(
        stocktake.report_csv(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=stocktake-{stocktake_id}.csv"},
    )


@bp.post("/<int:stocktake_id>/close")
def close(stocktake_id: int) -> Response:
    try:
        result = stocktake.close(people(), locations(), stocktake_id, by=current().user.name, at=utc_now())
    except stocktake.StocktakeError as exc:
        flash(_("Not closed: %(reason)s", reason=exc), "error")
    else:
        audit("stocktake_closed", f"stocktake/{stocktake_id}", **result.counts(), visited=len(result.visited))
        flash(_("Stocktake closed: its findings are kept and the shelves visited count as checked."), "ok")
    return redirect(url_for("stocktakes.one", stocktake_id=stocktake_id))


@api.get("/<int:stocktake_id>")
def one_json(stocktake_id: int) -> Response:
    result = _reconciled(stocktake_id)
    return jsonify(
        stocktake=result.stocktake,
        shelves=len(result.shelves),
        visited=result.visited,
        counts=result.counts(),
        findings=result.rows(),
    )
