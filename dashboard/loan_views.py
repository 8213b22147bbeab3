"""Loan pages: request dossiers, approve or refuse requests, see what is out and overdue, confirm returns.

    GET  /loans/                          requests and loans: pending, approved (with each dossier's state), past
    POST /loans/                          file a request (dossier codes, purpose, days)
    POST /loans/<id>/approve | /refuse    decide a pending request (a role with the authority; never one's own)
    POST /loans/<id>/return/<code>        confirm a returned dossier's page count

Every change is audited, every refusal too, and each decision sends the loan document to the gateways.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard import loans
from dashboard.access import audit, current
from dashboard.connection import people, store
from gateway.protocol import utc_now

bp = Blueprint("loans", __name__, url_prefix="/loans")


@bp.get("/")
def page() -> str:
    site = current_app.config["SITE"]
    shown = loans.requests(store().db.conn, utc_now())
    for loan in shown:
        for item in loan["items"]:
            item["expected"] = (
                loans.expected_pages(store().db.conn, site, item["code"]) if item["state"] == "returned" else None
            )
    return render_template("loans.html", loans=shown, limits=site.tracking.loans, me=current().user)


def _send_document() -> None:
    site = current_app.config["SITE"]
    version = loans.publish_document(people(), site, current_app.config["PUBLISH"], utc_now())
    if version is None:
        flash(_("The dashboard is not connected to the broker: the gateways get the loans when it is."), "error")


@bp.post("/")
def file_request() -> Response:
    visitor = current().user
    codes = request.form.get("codes", "").replace(",", " ").replace("，", " ").split()
    days_text = request.form.get("days", "").strip()
    try:
        days = int(days_text) if days_text else None
        purpose = request.form.get("purpose", "")
        number = loans.request(people(), current_app.config["SITE"], user_id=visitor.id, user=visitor.name,
                               codes=codes, purpose=purpose, days=days, at=utc_now())  # fmt: skip
    except (loans.LoanError, ValueError) as exc:
        audit("loan_request_refused", ",".join(codes)[:200], reason=str(exc))
        flash(_("Request refused: %(reason)s", reason=exc), "error")
        return redirect(url_for("loans.page"))
    audit("loan_requested", f"loan/{number}", codes=",".join(codes), days=days or "")
    flash(_("Request %(number)s filed; it waits for approval.", number=number), "ok")
    return redirect(url_for("loans.page"))


def _decide(request_id: int, approve: bool) -> Response:
    visitor = current().user
    try:
        decided = loans.decide(people(), request_id, user_id=visitor.id, user=visitor.name, approve=approve,
                               note=request.form.get("note", ""), at=utc_now())  # fmt: skip
    except loans.LoanError as exc:
        audit("loan_decision_refused", f"loan/{request_id}", reason=str(exc))
        flash(_("Not done: %(reason)s", reason=exc), "error")
        return redirect(url_for("loans.page"))
    audit("loan_approved" if approve else "loan_refused", f"loan/{request_id}", codes=",".join(decided["codes"]))
    _send_document()
    flash(_("Request %(number)s approved.", number=request_id) if approve else
          _("Request %(number)s refused.", number=request_id), "ok")  # fmt: skip
    return redirect(url_for("loans.page"))


@bp.post("/<int:request_id>/approve")
def approve(request_id: int) -> Response:
    return _decide(request_id, True)


@bp.post("/<int:request_id>/refuse")
def refuse(request_id: int) -> Response:
    return _decide(request_id, False)


@bp.post("/<int:request_id>/return/<code>")
def confirm_return(request_id: int, code: str) -> Response:
    site = current_app.config["SITE"]
    try:
        pages = int(request.form.get("pages", ""))
        expected = loans.expected_pages(store().db.conn, site, code)
        closed = loans.confirm_return(people(), request_id, code, pages=pages, by=current().user.name, at=utc_now(),
                                      expected=expected)  # fmt: skip
    except (loans.LoanError, ValueError) as exc:
        flash(_("Not confirmed: %(reason)s", reason=exc), "error")
        return redirect(url_for("loans.page"))
    audit("loan_return_confirmed", f"loan/{request_id}", code=code, pages=pages, expected=expected)
    if expected is not None and expected != pages:
        flash(_("%(code)s: %(pages)s pages counted, the manifest has %(expected)s. Check the dossier.", code=code,
                pages=pages, expected=expected), "error")  # fmt: skip
    else:
        flash(_("%(code)s is back, %(pages)s pages.", code=code, pages=pages), "ok")
    if closed:
        _send_document()
    return redirect(url_for("loans.page"))


def item_labels() -> dict[str, str]:
    return {
        "approved": _("approved, at the storeroom"),
        "out": _("checked out"),
        "returned": _("returned: count the pages"),
        "confirmed": _("returned"),
    }


def state_labels() -> dict[str, str]:
    return {
        "pending": _("waiting for approval"),
        "approved": _("approved"),
        "refused": _("refused"),
        "cancelled": _("cancelled"),
        "closed": _("all returned"),
    }


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"item_labels": item_labels, "state_labels": state_labels}
