"""Every word on the pages comes in Simplified Chinese and English; a missing translation fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dashboard.app import create_app
from tests.support import add_user, login

DASHBOARD = Path(__file__).parents[1] / "dashboard"
CATALOGUE = DASHBOARD / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "N_": None, "lazy_gettext": None}


def msgids() -> dict[str, str]:
    """Every message the dashboard's code and templates mark for translation, with where it is."""
    found = {}
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, *_ in extract_from_dir(DASHBOARD, method_map, options, keywords=KEYWORDS):
        found.setdefault(message if isinstance(message, str) else message[0], f"{filename}:{lineno}")
    return found


def catalogue() -> dict[str, str]:
    with CATALOGUE.open("rb") as source:
        return {m.id: m.string for m in read_po(source) if m.id}


def test_every_marked_message_has_a_chinese_translation():
    translated = catalogue()
    missing = {m: where for m, where in msgids().items() if not translated.get(m)}
    assert missing == {}, f"untranslated: {missing}"


def test_the_catalogue_holds_no_message_the_code_no_longer_uses():
    assert set(catalogue()) - set(msgids()) == set()


def test_translations_keep_their_placeholders():
    for message, translation in catalogue().items():
        assert sorted(re.findall(r"%\(\w+\)s", message)) == sorted(re.findall(r"%\(\w+\)s", translation)), message


@pytest.fixture
def app(site):
    app = create_app(site)
    add_user(app.config["DATABASE"], "kim", "keeper")
    add_user(app.config["DATABASE"], "amy", "admin")
    add_user(app.config["DATABASE"], "ada", "auditor")
    return app


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|template|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(
    ("user", "path"),
    [("kim", "/"), ("kim", "/alerts/"), ("kim", "/rooms/east-stack"), ("amy", "/admin/users"), ("ada", "/audit/")],
)
def test_the_main_pages_show_no_english_word_in_chinese(app, user, path):
    client = app.test_client()
    login(client, user)
    text = visible_text(client.get(path).get_data(as_text=True))
    # What may stay Latin: names and ids from the config, units, the language switch, numbers.
    allowed = {"English", "Demo", "personnel", "archive", "East", "West", "stack", "compact", "fixed", "shelving",
               "gw", "east", "west", "dht", "dehum", "main", "door", "Outside", "north", "wall", "out", "outside",
               "RH", "C", "h", "kim", "amy", "ada", "keeper", "entrance",
               "admin", "auditor", "facilities", "archivist", "login", "CST", "gateway", "CSV", "role"}  # fmt: skip
    words = set(re.findall(r"[A-Za-z]+", text)) - allowed
    assert words == set(), f"{path}: English left on a Chinese page: {sorted(words)}"


def test_a_user_who_chooses_english_gets_english(app):
    client = app.test_client()
    login(client, "kim")
    from tests.support import csrf_token

    token = csrf_token(client.get("/").get_data(as_text=True))
    client.post("/language", data={"csrf_token": token, "language": "en", "next": "/"})
    text = visible_text(client.get("/").get_data(as_text=True))
    assert "Rooms" in text and "Humidity" in text and "库房总览" not in text
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
