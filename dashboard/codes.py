"""New dossier codes (档号) from the site's pattern, e.g. `{unit}-{year}-{seq:05d}` gives `A01-2026-00042`.

The next code is one past the highest sequence number the register already has for that unit and year,
so codes are never reused, even when a dossier's row was imported by hand with a gap before it.

Example:

    >>> from dashboard.relations import connect_memory
    >>> conn = connect_memory()
    >>> next_code(conn, "{unit}-{year}-{seq:05d}", unit="A01", year=2026)
    'A01-2026-00001'
"""

from __future__ import annotations

import re
import sqlite3
import string

from rfid.tagformat import TagError, check_code


class CodeError(ValueError):
    """No code can be made: the pattern or the unit does not give a valid tag code."""


def _matcher(pattern: str, unit: str, year: int) -> re.Pattern[str]:
    """A regex matching the codes the pattern makes for this unit and year, capturing the sequence number."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field == "unit":
            parts.append(re.escape(unit))
        elif field == "year":
            parts.append(str(year))
        elif field == "seq":
            parts.append(r"(?P<seq>\d+)")
        elif field is not None:
            raise CodeError(f"tracking.code_pattern: unknown field {{{field}}} (use unit, year and seq)")
    return re.compile("".join(parts) + r"\Z")


def next_code(conn: sqlite3.Connection, pattern: str, *, unit: str, year: int) -> str:
    if "{seq" not in pattern:
        raise CodeError("tracking.code_pattern has no {seq}: it would make the same code twice")
    matcher = _matcher(pattern, unit, year)
    prefix = pattern.split("{seq", 1)[0].format(unit=unit, year=year)
    highest = 0
    for (code,) in conn.execute("SELECT code FROM dossiers WHERE code >= ? AND code < ?", (prefix, prefix + "\uffff")):
        found = matcher.match(code)
        if found:
            highest = max(highest, int(found["seq"]))
    code = pattern.format(unit=unit, year=year, seq=highest + 1)
    try:
        check_code(code)
    except TagError as exc:
        raise CodeError(f"{code!r} cannot be written on a tag: {exc}") from None
    return code
