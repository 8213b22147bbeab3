"""The copy stand's station page: a touchscreen beside the stand, served by the gateway itself.

It shows the open dossier, its page count, the last corrected page large and the verdict with its
reasons, in the site's language; bad pages are retaken in place from here. The page long-polls
`/view.json`, so a verdict appears the moment the page's checks are done, while its files are still being
written; the page's image follows once its access copy is on the card, and the page count moves on with it.
A page whose files could not be written is named as not kept, to be shot again. The page keeps going after
the gateway restarts. It only ever shows pages of the dossier being digitized now: it is not a viewer of
the archive.

Served on the gateway (default 127.0.0.1:8090, the kiosk browser on the same Pi). Changing requests need
the page's token in a header, which a page from anywhere else cannot read: no other site can press the
keeper's buttons through the kiosk's browser.
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path

from flask import Flask, Response, abort, jsonify, render_template, request, send_file
from flask_babel import Babel, gettext
from werkzeug.serving import make_server

from gateway.copystand import CopyStandSession
from storeroom.catalogues import compile_catalogues

log = logging.getLogger(__name__)

FOLDER = Path(__file__).parent / "translations"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
LONG_POLL_S = 20.0


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated where it is shown."""
    return message


# What the keeper reads for each check that failed and each notice: the session says which, never how.
MESSAGES = {
    "blur": N_("Blurred: hold the stand still and shoot again"),
    "exposure": N_("Too bright or too dark: check the stand's light"),
    "cut_off": N_("Part of the page is outside the picture: move it to the middle"),
    "no_page": N_("No page found on the stand"),
    "hand": N_("A hand or finger covers the page"),
    "residual_skew": N_("The page is still skewed after correction: lay it straight"),
    "resolution_dpi": N_("Resolution too low for this page size"),
    "duplicate": N_("Same page as the one before: turn the page"),
    "no_session": N_("Lay a dossier's tag on the reader first"),
    "session_ended": N_("Session ended"),
    "camera": N_("The camera did not deliver a photo"),
    "photo_refused": N_("A photo could not be read"),
    "bad_tag": N_("This tag is not a valid dossier tag"),
    "error": N_("Something went wrong; the stand goes on"),
    "disk_full": N_("The gateway's disk is full: no page can be kept until space is freed"),
    "not_kept": N_("Page {n} was NOT kept: shoot it again. Its files could not be written"),
    "stillness": N_("Waiting for the page to lie still"),
    "motion": N_("Turn the page"),
    "page": N_("Waiting for a whole page"),
}


def create_station(session: CopyStandSession, language: str = "zh_CN") -> Flask:
    app = Flask(__name__)
    token = secrets.token_urlsafe(24)
    compile_catalogues(FOLDER)
    app.config.update(BABEL_DEFAULT_LOCALE="en", BABEL_TRANSLATION_DIRECTORIES=str(FOLDER))

    def locale() -> str:
        chosen = request.cookies.get("language")
        return chosen if chosen in LANGUAGES else language

    Babel(app, locale_selector=locale)

    def messages() -> dict[str, str]:
        return {key: gettext(text) for key, text in MESSAGES.items()}

    def changing() -> None:
        if not secrets.compare_digest(request.headers.get("X-Station-Token", ""), token):
            abort(403, "this request needs the station page's token")

    @app.get("/")
    def page() -> str:
        return render_template(
            "station.html", view=session.view, token=token, messages=messages(), languages=LANGUAGES, locale=locale()
        )

    @app.get("/view.json")
    def view() -> Response:
        since = request.args.get("since", type=int)
        current = session.view if since is None else session.wait_for_change(since, LONG_POLL_S)
        return jsonify(current.as_dict())

    @app.get("/page/<int:number>.jpg")
    def page_image(number: int) -> Response:
        current = session.view
        shot = next((s for s in current.recent if s.page == number), None)
        if current.dossier is None or shot is None or not shot.access or not Path(shot.access).is_file():
            abort(404)  # the uploader keeps an open dossier's files; this guards a file removed by hand
        if current.saving == number:
            abort(404)  # a retake being written: its earlier file is not the page the verdict is about
        response = send_file(shot.access, mimetype="image/jpeg", max_age=0)
        response.headers["Cache-Control"] = "no-store"  # personal data: never kept by the kiosk's browser
        return response

    @app.post("/shoot")
    def shoot() -> Response:
        changing()
        session.submit("shoot")
        return jsonify(ok=True)

    @app.post("/retake/<int:number>")
    def retake(number: int) -> Response:
        changing()
        session.submit("retake", number)
        return jsonify(ok=True)

    @app.post("/keep")
    def keep() -> Response:
        changing()
        session.submit("keep")
        return jsonify(ok=True)

    @app.post("/done")
    def done() -> Response:
        changing()
        session.submit("done")
        return jsonify(ok=True)

    @app.post("/language/<code>")
    def choose_language(code: str) -> Response:
        if code not in LANGUAGES:
            abort(400, f"unknown language {code!r}; one of {', '.join(LANGUAGES)}")
        response = jsonify(ok=True)
        response.set_cookie("language", code, samesite="Strict", httponly=True)
        return response

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app


class StationServer:
    """The station app on its own thread (werkzeug's threaded server: one kiosk, a few requests a second)."""

    def __init__(self, app: Flask, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self._server = make_server(host.strip("[]"), int(port), app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="station", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
