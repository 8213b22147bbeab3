"""The daily or weekly report a keeper or facilities manager e-mails: climate per room, alerts, gateways
offline, dossiers digitized and stocktakes, for one period, in the recipient's language.

A period is whole days of the site's time zone: `day` is the day before `end` (default: yesterday), `week`
the seven days before it. Numbers come from the dashboard's database: climate from the rooms' fresh
readings (a reading counts as in band when both its temperature and its humidity are within the room's
bands; `time in band` is the share of readings, which the gateways send at a steady rate), alerts by when
they were raised, ended and acknowledged, gateway outages by how long their `gateway_offline` alert lasted
within the period. The e-mail is one MIME message with a text and an HTML part, both UTF-8.
"""

from __future__ import annotations

import json
import smtplib
import sqlite3
import ssl
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.access import N_
from dashboard.event_text import sentence, severity_text
from dashboard.schema import iso, parse_iso
from dashboard.translations import FOLDER
from hardware.config import SiteConfig
from storeroom.catalogues import compile_catalogues

PERIODS = {"day": 1, "week": 7}
LANGUAGES = ("zh_CN", "en")


WORDS = {
    "subject_day": N_("Storeroom daily report %(site)s, %(start)s"),
    "subject_week": N_("Storeroom weekly report %(site)s, %(start)s to %(last)s"),
    "title": N_("Storeroom report"),
    "period": N_("Period: %(start)s to %(end)s (%(zone)s)"),
    "climate": N_("Climate per room"),
    "room": N_("Room"),
    "temperature": N_("Temperature (°C)"),
    "humidity": N_("Humidity (% RH)"),
    "min_max_mean": N_("min / max / mean"),
    "in_band": N_("Time in band"),
    "readings": N_("Readings"),
    "no_readings": N_("no readings"),
    "alerts": N_("Alerts"),
    "raised": N_("raised"),
    "cleared": N_("ended"),
    "acknowledged": N_("acknowledged"),
    "still_active": N_("still active at the end"),
    "raised_list": N_("Alerts raised in the period"),
    "none": N_("none"),
    "gateways_offline": N_("Gateways offline"),
    "offline_for": N_("%(gateway)s: offline %(minutes)s min (%(times)s times)"),
    "digitized": N_("Dossiers digitized"),
    "dossier_pages": N_("%(dossier)s: %(pages)s pages"),
    "stocktakes": N_("Stocktakes closed"),
    "stocktake_line": N_("%(scope)s: %(found)s found, %(missing)s missing, %(misplaced)s misplaced"),
    "generated": N_("Generated %(when)s by the storeroom dashboard."),
}

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Period:
    name: str
    start: datetime
    end: datetime
    zone: str

    @classmethod
    def of(cls, name: str, zone: str, end: date | None = None) -> Period:
        """Whole local days: the `PERIODS[name]` days before `end` (default: today, so yesterday is the last)."""
        tz = ZoneInfo(zone)
        last = end or datetime.now(tz).date()
        finish = datetime.combine(last, time(0), tz)
        return cls(name, finish - timedelta(days=PERIODS[name]), finish, zone)

    @property
    def since(self) -> str:
        return iso(self.start)

    @property
    def until(self) -> str:
        return iso(self.end)


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _climate(conn: sqlite3.Connection, site: SiteConfig, period: Period) -> list[dict[str, Any]]:
    rooms = []
    for room in site.rooms:
        band = conn.execute(
            "SELECT humidity_low, humidity_high FROM rooms WHERE site = ? AND room = ?", (site.site.id, room.id)
        ).fetchone()
        applied = band is not None and band[0] is not None
        rh_low, rh_high = band if applied else (room.climate.humidity_rh.low, room.climate.humidity_rh.high)
        t_low, t_high = room.climate.temperature_c.low, room.climate.temperature_c.high
        row = conn.execute(
            """SELECT count(*), min(temperature_c), max(temperature_c), avg(temperature_c),
                      min(humidity_rh), max(humidity_rh), avg(humidity_rh),
                      sum(temperature_c BETWEEN ? AND ? AND humidity_rh BETWEEN ? AND ?)
               FROM readings WHERE site = ? AND room = ? AND ts >= ? AND ts < ?
                 AND state IN ('ok', 'degraded') AND temperature_c IS NOT NULL AND humidity_rh IS NOT NULL""",
            (t_low, t_high, rh_low, rh_high, site.site.id, room.id, period.since, period.until),
        ).fetchone()
        count = row[0]
        rooms.append(
            {
                "id": room.id,
                "name": room.name,
                "readings": count,
                "temperature": [round(v, 1) for v in row[1:4]] if count else None,
                "humidity": [round(v, 1) for v in row[4:7]] if count else None,
                "bands": {"temperature_c": [t_low, t_high], "humidity_rh": [rh_low, rh_high]},
                # An outdoor position has no band to keep: its values are shown for comparison only.
                "in_band": round(row[7] / count, 4) if count and not room.outdoor else None,
            }
        )
    return rooms


def _alerts(conn: sqlite3.Connection, period: Period) -> dict[str, Any]:
    def count(where: str) -> int:
        return conn.execute(f"SELECT count(*) FROM alerts WHERE {where}", (period.since, period.until)).fetchone()[0]

    raised = conn.execute(
        "SELECT kind, severity, room, device, gateway, data, message, started, ended FROM alerts"
        " WHERE started >= ? AND started < ? ORDER BY started",
        (period.since, period.until),
    ).fetchall()
    columns = ("kind", "severity", "room", "device", "gateway", "data", "message", "started", "ended")
    return {
        "raised": count("started >= ? AND started < ?"),
        "cleared": count("ended >= ? AND ended < ?"),
        "acknowledged": count("acked_at >= ? AND acked_at < ?"),
        "still_active": conn.execute(
            "SELECT count(*) FROM alerts WHERE started < ? AND (ended IS NULL OR ended >= ?)",
            (period.until, period.until),
        ).fetchone()[0],
        "list": [dict(zip(columns, row, strict=True)) for row in raised],
    }


def _offline(conn: sqlite3.Connection, period: Period) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT gateway, started, ended FROM alerts WHERE kind = 'gateway_offline'"
        " AND started < ? AND (ended IS NULL OR ended > ?) ORDER BY gateway, started",
        (period.until, period.since),
    ).fetchall()
    gateways: dict[str, dict[str, Any]] = {}
    for gateway, started, ended in rows:
        begin = max(parse_iso(started), period.start)
        finish = min(parse_iso(ended), period.end) if ended else period.end
        one = gateways.setdefault(gateway, {"gateway": gateway, "seconds": 0.0, "times": 0})
        one["seconds"] += max(0.0, (finish - begin).total_seconds())
        one["times"] += 1
    return list(gateways.values())


def _digitized(conn: sqlite3.Connection, period: Period) -> list[dict[str, Any]] | None:
    if not _table_exists(conn, "dossier_scans"):
        return None
    rows = conn.execute(
        "SELECT dossier, pages FROM dossier_scans WHERE ts >= ? AND ts < ? ORDER BY dossier",
        (period.since, period.until),
    ).fetchall()
    return [{"dossier": dossier, "pages": pages} for dossier, pages in rows]


def _stocktakes(conn: sqlite3.Connection, period: Period) -> list[dict[str, Any]] | None:
    if not (_table_exists(conn, "stocktakes") and _table_exists(conn, "stocktake_findings")):
        return None
    rows = conn.execute(
        """SELECT s.scope,
                  sum(f.outcome = 'found'), sum(f.outcome = 'missing'), sum(f.outcome = 'misplaced')
           FROM stocktakes s LEFT JOIN stocktake_findings f ON f.stocktake = s.id
           WHERE s.closed >= ? AND s.closed < ? GROUP BY s.id ORDER BY s.closed""",
        (period.since, period.until),
    ).fetchall()
    return [
        {"scope": scope, "found": found or 0, "missing": missing or 0, "misplaced": misplaced or 0}
        for scope, found, missing, misplaced in rows
    ]


def gather(conn: sqlite3.Connection, site: SiteConfig, period: Period) -> dict[str, Any]:
    """The report's numbers for one period, in no language yet."""
    return {
        "site": site.site.id,
        "period": period.name,
        "start": period.since,
        "end": period.until,
        "zone": period.zone,
        "rooms": _climate(conn, site, period),
        "alerts": _alerts(conn, period),
        "gateways_offline": _offline(conn, period),
        "digitized": _digitized(conn, period),
        "stocktakes": _stocktakes(conn, period),
    }


def _translations(language: str) -> Translations:
    compile_catalogues(FOLDER)
    return Translations.load(str(FOLDER), [Locale.parse(language)])  # zh_CN is zh_Hans_CN, as the folder is named


def render(report: dict[str, Any], *, language: str, sender: str, to: str) -> EmailMessage:
    """The report as one MIME e-mail (text and HTML, UTF-8) in `language` (zh_CN or en), local times."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    translations = _translations(language)
    zone = ZoneInfo(report["zone"])

    def local(stored: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return parse_iso(stored).astimezone(zone).strftime(fmt)

    words = {key: translations.gettext(message) for key, message in WORDS.items()}
    start, end = parse_iso(report["start"]).astimezone(zone), parse_iso(report["end"]).astimezone(zone)
    day = {"start": start.strftime("%Y-%m-%d"), "last": (end - timedelta(days=1)).strftime("%Y-%m-%d")}
    alert_lines = []
    for alert in report["alerts"]["list"]:
        text = sentence(
            alert["kind"],
            data=json.loads(alert["data"] or "{}"),
            room=alert["room"],
            device=alert["device"],
            gateway=alert["gateway"],
            translate=translations.gettext,
        )
        alert_lines.append(
            {
                "when": local(alert["started"]),
                "severity": severity_text(alert["severity"], translations.gettext),
                "where": alert["room"] or alert["gateway"],
                "text": text or alert["message"],
                "own_words": text is None,
            }
        )
    context = {
        "w": words,
        "report": report,
        "subject": words[f"subject_{report['period']}"] % {"site": report["site"], **day},
        "period": words["period"]
        % {"start": local(report["start"]), "end": local(report["end"]), "zone": report["zone"]},
        "alert_lines": alert_lines,
        "offline": [
            words["offline_for"] % {"gateway": g["gateway"], "minutes": f"{g['seconds'] / 60:.0f}", "times": g["times"]}
            for g in report["gateways_offline"]
        ],
        "digitized": None if report["digitized"] is None else [words["dossier_pages"] % d for d in report["digitized"]],
        "stocktakes": None
        if report["stocktakes"] is None
        else [words["stocktake_line"] % s for s in report["stocktakes"]],
        "generated": words["generated"] % {"when": datetime.now(zone).strftime("%Y-%m-%d %H:%M %Z")},
        "lang": "zh-Hans-CN" if language == "zh_CN" else "en",
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
    )
    message = EmailMessage()
    message["Subject"] = context["subject"]
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(env.get_template("report_email.txt").render(context), charset="utf-8")
    message.add_alternative(env.get_template("report_email.html").render(context), subtype="html", charset="utf-8")
    message["Content-Language"] = context["lang"]  # after the content: setting it clears Content-* headers
    return message


class MailError(Exception):
    """The report could not be sent; the message says why."""


def send(message: EmailMessage, *, host: str, port: int, starttls: bool, secrets: Path, timeout_s: float) -> None:
    """Send through SMTP; log in with `<secrets>/smtp.user` and `smtp.password` when both exist."""
    user_file, password_file = secrets / "smtp.user", secrets / "smtp.password"
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            smtp.ehlo()
            if starttls:
                if not smtp.has_extn("starttls"):
                    raise MailError(f"{host}:{port} does not offer STARTTLS (reports.starttls = false sends in clear)")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user_file.exists() and password_file.exists():
                smtp.login(user_file.read_text().strip(), password_file.read_text().strip())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"sending through {host}:{port} failed: {exc}") from None
