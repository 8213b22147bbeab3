"""The pages in the visitor's language: Flask-Babel with our own catalogues in dashboard/translations/.

A logged-in user's own choice wins; everyone else (the login page too) gets the site's default
(`dashboard.language`, Chinese for the demo). Catalogues are kept as .po text in the repository and
compiled to .mo when the app starts, whenever the .po is newer, so there is no build step to forget.
Folders are named as Babel names the locale (`zh_CN` is `zh_Hans_CN`: Simplified Chinese, China).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from flask_babel import Babel, get_locale

from dashboard.connection import people
from dashboard.users import LANGUAGES, Users
from storeroom.catalogues import compile_catalogues

FOLDER = Path(__file__).parent / "translations"


def _locale() -> str:
    from dashboard.access import current

    visitor = current()
    if visitor is not None:
        chosen = Users(people()).language(visitor.user.id)
        if chosen in LANGUAGES:
            return chosen
    return current_app.config["SITE"].dashboard.language


def init_app(app: Flask) -> None:
    compile_catalogues(FOLDER)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(FOLDER)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["SITE"].site.timezone
    Babel(app, locale_selector=_locale)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
