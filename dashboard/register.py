"""The dossier register: which dossiers exist, by the code on their tag, with name, unit and catalogue fields.

Registers come out of Chinese spreadsheets, so `import_csv` reads UTF-8 (with or without a BOM) and
GB18030, takes English or Chinese column names (code/档号, name/姓名, unit/单位), keeps every other column
as a catalogue field, and refuses a row with a reason rather than the whole file: a code that would not
fit a tag, a code twice in one file, a missing name or unit. An import adds new dossiers and updates
known ones; it never deletes.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dashboard import dossier_search
from dashboard.locations import Location, Locations, home_of
from dashboard.schema import iso
from hardware import spreadsheet
from rfid.tagformat import TagError, check_code

COLUMNS = {"code": ("code", "档号", "编号"), "name": ("name", "姓名"), "unit": ("unit", "单位", "所在单位")}


class RegisterError(ValueError):
    """The file cannot be imported at all (unreadable, no code column); the message says why."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[dict[str, object]] = field(default_factory=list)
    encoding: str = ""
    unplaced: list[dict[str, object]] = field(default_factory=list)
    """Rows imported whose home (a location column) names no shelf or box of the site: they have no home."""

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "encoding": self.encoding,
        }


def _columns(header: list[str]) -> dict[str, str]:
    found = {}
    for key, names in COLUMNS.items():
        match = next((h for h in header if h.strip().lower() in names), None)
        if match is None:
            raise RegisterError(f"no {key} column ({' / '.join(names)}); the header has {', '.join(header)}")
        found[key] = match
    return found


def import_csv(
    conn: sqlite3.Connection, raw: bytes, source: str, *, dry_run: bool = False, locations: Locations | None = None
) -> ImportReport:
    """Add and update the dossiers of a register CSV; every refused row is in the report with its reason.

    Each dossier is indexed for search (dashboard/dossier_search.py) and, given the site's `locations`,
    placed at the home its location column names (dashboard/locations.py).
    """
    try:
        text, encoding = spreadsheet.decode(raw)
    except ValueError as exc:
        raise RegisterError(str(exc)) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = _columns(list(reader.fieldnames or []))
    report = ImportReport(encoding=encoding)
    seen: set[str] = set()
    now = iso(datetime.now(UTC))
    conn.execute("BEGIN IMMEDIATE")
    try:
        for row in reader:
            line = reader.line_num
            values = {k: (row.get(column) or "").strip() for k, column in columns.items()}
            try:
                if None in row:
                    raise ValueError("more fields than the header has columns")
                check_code(values["code"])
                if values["code"] in seen:
                    raise ValueError(f"code {values['code']} appears twice in this file")
                for key in ("name", "unit"):
                    if not values[key]:
                        raise ValueError(f"{key} is empty")
            except (TagError, ValueError) as exc:
                report.refused.append({"line": line, "code": values["code"], "reason": str(exc)})
                continue
            seen.add(values["code"])
            extra = {k: (v or "").strip() for k, v in row.items() if k not in columns.values() and k is not None}
            fields_json = json.dumps(extra, ensure_ascii=False, sort_keys=True)
            known = conn.execute(
                "SELECT name, unit, fields, home FROM dossiers WHERE code = ?", (values["code"],)
            ).fetchone()
            home = _home(extra, locations, line, values["code"], report)
            same_home = locations is None or (known and known[3] == (home and home.code))
            if known and known[:3] == (values["name"], values["unit"], fields_json) and same_home:
                report.unchanged += 1
                continue
            conn.execute(
                """INSERT INTO dossiers (code, name, unit, fields, imported, source) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (code) DO UPDATE SET name = excluded.name, unit = excluded.unit,
                      fields = excluded.fields, imported = excluded.imported, source = excluded.source""",
                (values["code"], values["name"], values["unit"], fields_json, now, source),
            )
            if locations is not None:
                conn.execute(
                    "UPDATE dossiers SET home = ?, home_room = ?, home_shelf = ? WHERE code = ?",
                    (home and home.code, home and home.room, locations.shelf_of(home and home.code), values["code"]),
                )
            old = (known[0], known[1], json.loads(known[2])) if known else None
            dossier_search.index(conn, values["code"], values["name"], values["unit"], extra, old=old)
            if known:
                report.updated += 1
            else:
                report.added += 1
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return report


def _home(
    fields: dict[str, str], locations: Locations | None, line: int, code: str, report: ImportReport
) -> Location | None:
    """The dossier's home location, if the row names one the site has (else noted in the report)."""
    text = home_of(fields)
    if locations is None or not text:
        return None
    home = locations.home(text)
    if home is None:
        report.unplaced.append({"line": line, "code": code, "reason": f"{text!r} is not a shelf or box of the site"})
    return home


def registered(conn: sqlite3.Connection, codes: list[str]) -> set[str]:
    """Which of `codes` are in the register."""
    if not codes:
        return set()
    marks = ",".join("?" * len(codes))
    return {code for (code,) in conn.execute(f"SELECT code FROM dossiers WHERE code IN ({marks})", codes)}
