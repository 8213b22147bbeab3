"""Dossiers: find one (code, name, pinyin, unit, catalogue fields; typo-tolerant; filters; suggestions) and see
where it is now, its state, its history and its shelf on the room's floor plan.

    GET /dossiers/                    the search page (suggestions while typing come from the API)
    GET /dossiers/<code>              one dossier; every view is audited (`dossier_viewed`)
    GET /api/dossiers?q=&unit=&room=&shelf=&field.<name>=   search, JSON
    GET /api/dossiers/suggest?q=      up to 8 suggestions while typing, JSON
    GET /api/dossiers/<code>          one dossier's whereabouts, JSON (audited like the page)

Nobody sees their own dossier or a relative's (dashboard/relations.py): search leaves them out and their
page is refused, and the refusal is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from dashboard import dossier_search, floorplan, relations, whereabouts
from dashboard.access import audit, current
from dashboard.connection import store
from dashboard.locations import Locations
from gateway.protocol import utc_now

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")
api = Blueprint("dossier_api", __name__, url_prefix="/api/dossiers")
MAX_QUERY = 200
PAGE_SIZE = 50
SUGGESTIONS = 8


def locations() -> Locations:
    """The site's location tree, built once per app."""
    found = current_app.extensions.get("storeroom.locations")
    if found is None:
        found = current_app.extensions["storeroom.locations"] = Locations(current_app.config["SITE"])
    return found


def _barred() -> set[str]:
    visitor = current()
    return relations.barred(store().db.conn, visitor.user.id) if visitor else set()


def _query() -> tuple[str, dossier_search.Filters]:
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY:
        abort(400, description=f"q: at most {MAX_QUERY} characters")
    fields = {
        name.removeprefix("field."): value.strip()
        for name, value in request.args.items()
        if name.startswith("field.") and value.strip()
    }
    if request.args.get("fname", "").strip() and request.args.get("fvalue", "").strip():
        fields[request.args["fname"].strip()] = request.args["fvalue"].strip()
    filters = dossier_search.Filters(
        unit=request.args.get("unit", "").strip(),
        room=request.args.get("room", "").strip(),
        shelf=request.args.get("shelf", "").strip(),
        fields=fields,
    )
    return query, filters


def _units() -> list[str]:
    return [u for (u,) in store().db.execute("SELECT DISTINCT unit FROM dossiers ORDER BY unit LIMIT 500")]


@bp.get("/")
def search_page() -> str:
    query, filters = _query()
    result = dossier_search.search(store().db.conn, query, filters, hidden=_barred(), limit=PAGE_SIZE)
    searched = bool(query.strip() or filters.any)
    site = current_app.config["SITE"]
    return render_template(
        "dossiers.html",
        query=query,
        filters=filters,
        result=result,
        searched=searched,
        units=_units(),
        rooms=[(p.room, next((r.name for r in site.rooms if r.id == p.room), p.room)) for p in site.tracking.plans],
    )


class Barred(Exception):
    """The visitor asked for their own dossier or a relative's."""


def _shown(code: str) -> dict[str, Any]:
    """The dossier's whereabouts for the current visitor, audited; Barred for their own or a relative's."""
    visitor = current()
    assert visitor is not None  # the access guard let only logged-in visitors through
    relation = relations.relation_to(store().db.conn, visitor.user.id, code)
    if relation is not None:
        audit("dossier_refused", code, relation=relation)
        raise Barred(relation)
    found = whereabouts.whereabouts(store().db.conn, locations(), code)
    if found is None:
        abort(404, description=f"no dossier {code} in the register")
    audit("dossier_viewed", code)
    return found


def _plan(dossier: dict[str, Any]):
    """The floor plan of the room the dossier lives in (or was last seen in), its shelves marked."""
    places = locations()
    seen = dossier["last_seen"]
    seen_shelf = places.shelf_of(seen["place"]) if seen else None
    room = dossier["home_room"] or (places.get(seen_shelf).room if seen_shelf else None)
    plan = places.plan(room) if room else None
    if plan is None:
        return None
    highlight = {}
    if seen_shelf and seen_shelf != dossier["home_shelf"]:
        highlight[seen_shelf] = "seen"
    if dossier["home_shelf"]:
        highlight[dossier["home_shelf"]] = "home"
    return room_plan(plan, highlight)


def room_plan(plan, highlight: dict[str, str]):
    shown = next((r for r in store().rooms(utc_now()) if r["id"] == plan.room), None)
    sensors = {s["id"]: s for s in shown["sensors"]} if shown else {}
    doors = {d["id"]: d["open"] for d in shown["doors"]} if shown else {}
    title = shown["name"] if shown else plan.room
    return floorplan.render(plan, highlight=highlight, sensors=sensors, doors=doors, title=title)


@bp.get("/<path:code>")
def dossier(code: str) -> str | Response:
    try:
        found = _shown(code)
    except Barred:
        reason = _("Nobody may consult their own dossier or a relative's.")
        return Response(render_template("forbidden.html", reason=reason), status=403)
    site = current_app.config["SITE"].site.id
    (pages,) = (
        store().db.conn.execute("SELECT count(*) FROM pages WHERE site = ? AND dossier = ?", (site, code)).fetchone()
    )
    return render_template("dossier.html", dossier=found, plan=_plan(found), states=state_labels(), pages=pages)


def state_labels() -> dict[str, str]:
    return {
        "on_shelf": _("on its shelf"),
        "on_loan": _("out on loan"),
        "at_copy_stand": _("at the copy stand"),
        "missing": _("missing"),
        "at_desk": _("at the issue desk"),
        "at_door": _("seen at a door"),
        "misplaced": _("on the wrong shelf"),
    }


@api.get("")
def search() -> Response:
    query, filters = _query()
    limit = request.args.get("limit", str(PAGE_SIZE))
    if not limit.isdigit() or not 1 <= int(limit) <= 200:
        abort(400, description="limit: a whole number from 1 to 200")
    result = dossier_search.search(store().db.conn, query, filters, hidden=_barred(), limit=int(limit))
    return jsonify(hits=[h.as_dict() for h in result.hits], more=result.more)


@api.get("/suggest")
def suggest() -> Response:
    query, _filters = _query()
    result = dossier_search.search(store().db.conn, query, hidden=_barred(), limit=SUGGESTIONS)
    return jsonify(suggestions=[h.as_dict() for h in result.hits])


@api.get("/<path:code>")
def one(code: str) -> Response:
    try:
        return jsonify(_shown(code))
    except Barred:
        abort(403, description="nobody may consult their own dossier or a relative's")


def match_labels() -> dict[str, str]:
    return {
        "code": _("code"),
        "name": _("name"),
        "pinyin": _("pinyin"),
        "initials": _("pinyin initials"),
        "unit": _("unit"),
        "field": _("catalogue field"),
        "words": _("all words"),
        "fuzzy": _("similar spelling"),
        "filter": _("filters"),
    }


def finding_labels() -> dict[str, str]:
    return {
        "found": _("found"),
        "missing": _("missing"),
        "misplaced": _("misplaced"),
        "unknown": _("unknown tag"),
        "on_loan": _("out on loan"),
    }


def record_labels() -> dict[str, str]:
    return {
        "checked_out": _("checked out"),
        "returned": _("returned"),
        **{f"stocktake_{outcome}": _("stocktake: %(finding)s", finding=label) for outcome, label in
           finding_labels().items()},
    }  # fmt: skip


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"match_labels": match_labels, "finding_labels": finding_labels, "record_labels": record_labels}
