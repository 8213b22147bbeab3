"""Administrators link users to person records of the register (their own dossier, their relatives'):
those users never find, open, request or approve those dossiers.

    GET  /relations/           every link: user, dossier code, relation
    POST /relations/           add (or change) a link
    POST /relations/remove     remove a link

Only codes are shown here, never names: an administrator manages links, not dossiers.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import relations
from dashboard.access import audit
from dashboard.connection import people
from dashboard.users import UserError, Users

bp = Blueprint("relations", __name__, url_prefix="/relations")


@bp.get("/")
def page() -> str:
    rows = (
        people()
        .execute(
            "SELECT u.name, l.code, l.relation, l.linked, l.linked_by FROM person_links l"
            " JOIN users u ON u.id = l.user_id ORDER BY u.name, l.code"
        )
        .fetchall()
    )
    users = [u.name for u in Users(people()).all()]
    return render_template("relations.html", links=rows, users=users, kinds=relations.RELATIONS)


@bp.post("/")
def add() -> Response:
    name, code = request.form.get("user", ""), request.form.get("code", "").strip()
    relation = request.form.get("relation", "")
    try:
        if not code:
            raise relations.RelationError("give the dossier code of the person")
        user = Users(people()).get(name)
        relations.link(people(), user_id=user.id, code=code, relation=relation, by=_actor())
    except (relations.RelationError, UserError) as exc:
        flash(_("Not linked: %(reason)s", reason=exc), "error")
        return redirect(url_for("relations.page"))
    audit("person_linked", name, code=code, relation=relation)
    flash(_("%(user)s linked to %(code)s.", user=name, code=code), "ok")
    return redirect(url_for("relations.page"))


@bp.post("/remove")
def remove() -> Response:
    name, code = request.form.get("user", ""), request.form.get("code", "")
    try:
        user = Users(people()).get(name)
    except UserError as exc:
        flash(_("Not linked: %(reason)s", reason=exc), "error")
        return redirect(url_for("relations.page"))
    if relations.unlink(people(), user_id=user.id, code=code):
        audit("person_unlinked", name, code=code)
    return redirect(url_for("relations.page"))


def _actor() -> str:
    from dashboard.access import current

    visitor = current()
    return visitor.user.name if visitor else "?"


def relation_labels() -> dict[str, str]:
    return {
        "self": _("self"),
        "spouse": _("spouse"),
        "parent": _("parent"),
        "child": _("child"),
        "sibling": _("sibling"),
        "relative": _("other relative"),
    }


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"relation_labels": relation_labels}
