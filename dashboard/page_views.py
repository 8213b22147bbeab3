"""A dossier's scanned pages, for archivists: the list with small copies and each page's quality verdict,
each page large, its files, the dossier's PDF; and the same as JSON.

    GET /dossiers/<code>/pages[?screen=N]          the list, PER_SCREEN pages a screen (small copies inline, so
                                                   one request, one audit row naming the pages shown)
    GET /dossiers/<code>/pages/<n>                 page n large, with its quality checks
    GET /dossiers/<code>/pages/<n>/<kind>          the file: access (JPEG), master (lossless), bitonal
    GET /dossiers/<code>/pdf                       the dossier's PDF: every page's access copy, in page order
    GET /api/dossiers/<code>/pages                 the list as JSON

Pages of personnel dossiers are personal data: every one of these requests is audited, with what was seen.
The dossier's own page (`/dossiers/<code>`) is elsewhere; this one links back to it.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dashboard import dossier_pdf, pages, relations
from dashboard.access import audit, current
from dashboard.connection import store
from dashboard.page_files import PageFiles, page_files
from dashboard.schema import iso
from gateway import protocol

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
THUMB_SIZE = (200, 283)
PER_SCREEN = 48
"""Pages a screen of the list shows: their small copies come inline (about 10 KB each), and a personnel
dossier of 300 pages in one screen would be a 4 MB page."""
MIMETYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff"}

QC_CHECKS: dict[str, Any] = {
    "no_page": _l("Page found"),
    "cut_off": _l("Whole page in the frame"),
    "blur": _l("Sharpness"),
    "exposure": _l("Exposure"),
    "hand": _l("No hand on the page"),
    "residual_skew": _l("Residual skew"),
    "resolution_dpi": _l("Resolution (dpi)"),
    "duplicate": _l("Not the previous page again"),
}
"""The copy stand's quality checks (vision/quality.py), named for people."""
QC_REASONS: dict[str, Any] = {
    "no page found on the stand": _l("no page found on the stand"),
    "page cut off by the frame: centre it on the stand": _l("page cut off by the frame: centre it on the stand"),
    "blurred: hold the camera still and check focus": _l("blurred: hold the camera still and check focus"),
    "over-exposed: highlights clipped": _l("over-exposed: highlights clipped"),
    "under-exposed: shadows clipped": _l("under-exposed: shadows clipped"),
    "a hand or finger covers the page": _l("a hand or finger covers the page"),
    "text still skewed after correction": _l("text still skewed after correction"),
    "resolution too low: move the camera closer or use a larger sensor": _l(
        "resolution too low: move the camera closer or use a larger sensor"
    ),
    "same page as the previous shot: turn the page": _l("same page as the previous shot: turn the page"),
}
"""The reasons the gateway gives (in English, on the wire), in the visitor's language."""
FILE_KINDS: dict[str, Any] = {
    "access": _l("access copy (JPEG)"),
    "master": _l("master (lossless)"),
    "bitonal": _l("black and white, for OCR"),
}


def _code(code: str) -> str:
    """The dossier code of the request, once the visitor may see its pages: never their own or a relative's."""
    if not re.fullmatch(protocol.DOSSIER_CODE_PATTERN, code) or ".." in code:
        abort(404, description=f"{code[:80]!r} is not a dossier code")
    visitor = current()
    assert visitor is not None  # the access guard let only logged-in visitors through
    relation = relations.relation_to(store().db.conn, visitor.user.id, code)
    if relation is not None:
        audit("pages_refused", code, relation=relation)
        abort(403, description=_l("Nobody may consult their own dossier or a relative's."))
    return code


def _site() -> str:
    return current_app.config["SITE"].site.id


def _dossier(code: str) -> dict[str, Any]:
    """What the register knows of the dossier (name, unit), if anything."""
    conn = store().db.conn
    row = conn.execute("SELECT name, unit FROM dossiers WHERE code = ?", (code,)).fetchone()
    return {"code": code, "name": row[0] if row else None, "unit": row[1] if row else None}


def _load(code: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    files = page_files()
    conn = store().db.conn
    return (
        pages.dossier_pages(conn, _site(), code, files.has),
        pages.dossier_scan(conn, _site(), code, files.has),
    )


def thumbnail(files: PageFiles, sha: str) -> str | None:
    """A small JPEG of a page's access copy as a data: URL (made once, kept beside the files); None if not here."""
    if not files.has(sha):
        return None
    path = files.thumb_path(sha)
    if not path.exists():
        from PIL import Image  # here and in jpeg_pdf.py only

        try:
            with Image.open(files.path(sha)) as image:
                image.draft("RGB", THUMB_SIZE)  # JPEG: decode at 1/2..1/8 scale, far cheaper than full size
                image = image.convert("RGB")
                image.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=70)
        except (OSError, ValueError) as exc:
            log.error("cannot make a small copy of page file %s: %s", sha, exc)
            return None
        part = path.with_suffix(".part")
        part.write_bytes(out.getvalue())
        os.replace(part, path)
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@bp.get("/dossiers/<code>/pages", endpoint="pages")
def pages_list(code: str) -> str:
    code = _code(code)
    listed, scan = _load(code)
    screens = max(1, -(-len(listed) // PER_SCREEN))
    screen = min(max(1, request.args.get("screen", 1, type=int)), screens)
    shown = listed[(screen - 1) * PER_SCREEN : screen * PER_SCREEN]
    files = page_files()
    for page in shown:
        access = page["files"].get("access")
        page["thumb"] = thumbnail(files, access["sha256"]) if access else None
    audit("pages_viewed", code, pages=[p["page"] for p in shown], via="page")
    return render_template(
        "pages.html",
        dossier=_dossier(code),
        pages=shown,
        count=len(listed),
        screen=screen,
        screens=screens,
        pdf=pdf_state(listed, scan),
        checks=QC_CHECKS,
        reasons=QC_REASONS,
        dossier_url=f"/dossiers/{code}",
    )


@bp.get("/dossiers/<code>/pages/<int:number>")
def page(code: str, number: int) -> str:
    code = _code(code)
    listed, _ = _load(code)
    found = next((p for p in listed if p["page"] == number), None)
    if found is None:
        abort(404, description=f"{code} has no page {number}")
    audit("page_viewed", f"{code}/{number:04d}", via="page")
    numbers = [p["page"] for p in listed]
    at = numbers.index(number)
    return render_template(
        "page.html",
        dossier=_dossier(code),
        page=found,
        previous=numbers[at - 1] if at > 0 else None,
        next=numbers[at + 1] if at + 1 < len(numbers) else None,
        count=len(numbers),
        checks=QC_CHECKS,
        reasons=QC_REASONS,
        kinds=FILE_KINDS,
        dossier_url=f"/dossiers/{code}",
    )


def _send(ref: dict[str, Any], obj: str, action: str, **detail: object) -> Response:
    files = page_files()
    if not ref["uploaded"]:
        abort(404, description=f"{obj}: the file is not at the dashboard yet (the gateway is still uploading it)")
    audit(action, obj, sha256=ref["sha256"], **detail)
    suffix = os.path.splitext(ref["name"])[1].lower()
    mimetype = MIMETYPES.get(suffix) or ("application/pdf" if suffix == ".pdf" else "application/octet-stream")
    response = send_file(files.path(ref["sha256"]), mimetype=mimetype, download_name=ref["name"], etag=ref["sha256"])
    response.headers["Cache-Control"] = "private, no-store"  # personal data: never kept in a cache
    return response


@bp.get("/dossiers/<code>/pages/<int:number>/<kind>")
def page_file(code: str, number: int, kind: str) -> Response:
    code = _code(code)
    listed, _ = _load(code)
    found = next((p for p in listed if p["page"] == number), None)
    if found is None or kind not in found["files"]:
        abort(404, description=f"{code} has no {kind} file of page {number}")
    return _send(found["files"][kind], f"{code}/{number:04d}", "page_file_viewed", kind=kind)


@bp.get("/dossiers/<code>/pdf")
def pdf(code: str) -> Response:
    """The dossier's PDF, made here from the access copies of all its pages (dashboard/dossier_pdf.py).

    A dossier whose pages are not all here yet gets the PDF its gateway uploaded, where there is one: how
    the dashboard served PDFs before it made them, so dossiers scanned then keep theirs in any case.
    """
    code = _code(code)
    for last_try in (False, True):
        listed, scan = _load(code)
        made_of = dossier_pdf.contents(listed)
        if not made_of.complete:
            break
        files = page_files()
        try:
            path = dossier_pdf.kept_pdf(files.root, code, made_of, files.path)
        except ValueError as exc:  # a stored access copy no longer reads as a JPEG: the store's disk is failing
            log.error("cannot make the PDF of %s: %s", code, exc)
            abort(500, description=_("The PDF of %(code)s cannot be made: %(why)s", code=code, why=exc))
        try:
            response = send_file(path, mimetype="application/pdf", download_name=f"{code}.pdf", etag=made_of.key)
        except FileNotFoundError:
            # A retake arrived and another request made the new PDF, removing this one, in the instant since
            # it was found: the pages as they are now, once more.
            if last_try:
                raise
            continue
        audit("dossier_pdf_viewed", code, pages=len(made_of.pages), made_of=made_of.key)
        response.headers["Cache-Control"] = "private, no-store"  # personal data: never kept in a cache
        return response
    if scan is not None and (uploaded := _gateways_pdf(scan)) is not None:
        return _send(uploaded, code, "dossier_pdf_viewed", pages=scan["pages"], made_by=scan["gateway"])
    if not made_of.pages:
        abort(404, description=_("%(code)s has no scanned pages, so there is no PDF of it.", code=code))
    waiting = ", ".join(str(n) for n in made_of.missing)
    why = _("The PDF is made once every page is here; still uploading: page %(pages)s.", pages=waiting)
    abort(404, description=why)


def _gateways_pdf(scan: dict[str, Any]) -> dict[str, Any] | None:
    """The PDF an older gateway made and uploaded with the dossier's scan, once it is here; else None."""
    uploaded = scan["files"].get("pdf")
    return uploaded if uploaded is not None and uploaded["uploaded"] else None


def pdf_state(listed: list[dict[str, Any]], scan: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the PDF link says: how many pages, and whether `GET /dossiers/<code>/pdf` serves one now."""
    made_of = dossier_pdf.contents(listed)
    if not made_of.pages:
        return None
    if made_of.complete:
        return {"pages": len(made_of.pages), "ready": True, "waiting": 0}
    if scan is not None and _gateways_pdf(scan) is not None:
        return {"pages": scan["pages"], "ready": True, "waiting": len(made_of.missing)}
    return {"pages": len(made_of.pages), "ready": False, "waiting": len(made_of.missing)}


@bp.get("/api/dossiers/<code>/pages")
def api_pages(code: str) -> Response:
    code = _code(code)
    listed, scan = _load(code)
    for item in listed:
        for kind, ref in item["files"].items():
            ref["url"] = url_for("pages.page_file", code=code, number=item["page"], kind=kind)
    if scan and "pdf" in scan["files"]:
        scan["files"]["pdf"]["url"] = url_for("pages.pdf", code=code)
    state = pdf_state(listed, scan)
    if state is not None:
        state["url"] = url_for("pages.pdf", code=code)
    audit("pages_viewed", code, pages=[p["page"] for p in listed], via="api")
    return jsonify(now=iso(protocol.utc_now()), dossier=_dossier(code), pages=listed, scan=scan, pdf=state)
