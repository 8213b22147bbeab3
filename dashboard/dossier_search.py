"""Finding dossiers: by code, name, pinyin (full or initials: "zs" finds 张三), unit or any catalogue field.

Every dossier's searchable values are kept normalised (NFKC, case-folded, without spaces and the
separators people type or leave out: `DA-2026-00042` is `da202600042`) in `dossier_keys`, a table
clustered by key, so a prefix search is one range of one B-tree, whatever the size of the register.
Pinyin comes from pypinyin; a surname with two readings (单 shàn/dān) is indexed under both.

A query is normalised the same way. Its words must all match (a prefix of some key of the dossier). When
the words find nothing, the search forgives typos: keys sharing a long enough start or end with the query
(the reversed keys in `dossier_rkeys`), one edit away (a letter changed, added, left out or two swapped), are
ordered by edit distance with rapidfuzz, and the closest are returned, marked `fuzzy`.

Filters combine with the words: unit, room, shelf, and catalogue fields by name. Dossiers the visitor may
not see (their own, their relatives': dashboard/relations.py) are never returned.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from pypinyin import Style, pinyin
from rapidfuzz.distance import OSA

SEPARATORS = str.maketrans("", "", " \t-_/.·,，、")
MAX_KEY = 64
FUZZY_POOL = 200
"""Candidates read per head or tail of a misspelt word."""
TOP = "\U0010ffff"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(SEPARATORS)


@lru_cache(maxsize=8192)
def _readings(char: str) -> tuple[str, ...]:
    """A character's pinyin readings, most common first (at most two); the character itself if it has none."""
    found = pinyin(char, style=Style.NORMAL, heteronym=True)[0][:2]
    return tuple(found) or (char,)


@lru_cache(maxsize=65536)
def name_pinyin(name: str) -> tuple[tuple[str, str], ...]:
    """(full, initials) spellings of a name: one per reading of its surname (at most two).

    Names are spelt character by character (a name is no phrase); each given-name character takes its most
    common reading, the surname each of its first two (单: shan and dan).
    """
    chars = normalise(name)
    if not chars or not any("\u4e00" <= c <= "\u9fff" for c in chars):
        return ()
    rest = [_readings(c)[0] for c in chars[1:]]
    spellings = []
    for surname in _readings(chars[0]):
        syllables = [surname, *rest]
        spellings.append(("".join(syllables), "".join(s[0] for s in syllables if s)))
    return tuple(dict.fromkeys(spellings))


def keys_of(code: str, name: str, unit: str, fields: dict[str, str]) -> list[tuple[str, str, bool]]:
    """(normalised key, which field it comes from, whether typos are forgiven on it) for one dossier."""
    keys = [(normalise(code), "code", True), (normalise(name), "name", True)]
    for full, initials in name_pinyin(name):
        keys += [(full, "pinyin", True), (initials, "initials", False)]
    keys.append((normalise(unit), "unit", False))
    for field_name, value in sorted(fields.items()):
        keys.append((normalise(str(value)), f"field:{field_name}", False))
    seen: set[tuple[str, str]] = set()
    unique = []
    for key, source, fuzzy in keys:
        key = key[:MAX_KEY]
        if key and (key, source) not in seen:
            seen.add((key, source))
            unique.append((key, source, fuzzy))
    return unique


def index(conn: sqlite3.Connection, code: str, name: str, unit: str, fields: dict[str, str], *,
          old: tuple[str, str, dict[str, str]] | None = None) -> None:  # fmt: skip
    """(Re)index one dossier; `old` is its previous name, unit and fields (whose keys are removed)."""
    if old is not None:
        stale = keys_of(code, *old)
        conn.executemany("DELETE FROM dossier_keys WHERE key = ? AND code = ? AND field = ?",
                         [(k, code, f) for k, f, _ in stale])  # fmt: skip
        conn.executemany("DELETE FROM dossier_rkeys WHERE rkey = ? AND code = ?",
                         [(k[::-1], code) for k, _, fuzzy in stale if fuzzy])  # fmt: skip
    keys = keys_of(code, name, unit, fields)
    conn.executemany("INSERT OR IGNORE INTO dossier_keys (key, code, field) VALUES (?, ?, ?)",
                     [(k, code, f) for k, f, _ in keys])  # fmt: skip
    conn.executemany("INSERT OR IGNORE INTO dossier_rkeys (rkey, code) VALUES (?, ?)",
                     [(k[::-1], code) for k, _, fuzzy in keys if fuzzy])  # fmt: skip


def reindex_all(conn: sqlite3.Connection) -> int:
    """Rebuild every dossier's keys (after an upgrade, or a register imported before search existed)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM dossier_keys")
        conn.execute("DELETE FROM dossier_rkeys")
        count = 0
        for code, name, unit, fields in conn.execute("SELECT code, name, unit, fields FROM dossiers").fetchall():
            index(conn, code, name, unit, json.loads(fields))
            count += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count


@dataclass
class Filters:
    unit: str = ""
    room: str = ""
    shelf: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def sql(self) -> tuple[str, list[object]]:
        clauses, args = [], []
        for column, value in (("d.unit", self.unit), ("d.home_room", self.room), ("d.home_shelf", self.shelf)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        for name, value in sorted(self.fields.items()):
            clauses.append("json_extract(d.fields, ?) = ?")
            args += ["$." + json.dumps(name, ensure_ascii=False), value]
        return "".join(f" AND {c}" for c in clauses), args

    @property
    def any(self) -> bool:
        return bool(self.unit or self.room or self.shelf or self.fields)


@dataclass
class Hit:
    code: str
    name: str
    unit: str
    home: str | None
    matched: str
    fuzzy: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "unit": self.unit, "home": self.home,
                "matched": self.matched, "fuzzy": self.fuzzy}  # fmt: skip


@dataclass
class Result:
    hits: list[Hit]
    more: bool


def search(
    conn: sqlite3.Connection,
    query: str,
    filters: Filters | None = None,
    *,
    hidden: Iterable[str] = (),
    limit: int = 20,
) -> Result:
    """The dossiers that match every word of `query` and every filter, best first."""
    filters = filters or Filters()
    hidden = set(hidden)
    where, args = filters.sql()
    whole = normalise(query)
    if not whole:
        if not filters.any:
            return Result([], False)
        rows = conn.execute(
            f"SELECT d.code, d.name, d.unit, d.home FROM dossiers d WHERE 1 = 1{where} ORDER BY d.code LIMIT ?",
            [*args, limit + len(hidden) + 1],
        ).fetchall()
        hits = [Hit(*row, matched="filter") for row in rows if row[0] not in hidden]
        return Result(hits[:limit], len(hits) > limit)
    hits: dict[str, Hit] = {}
    more = _prefix(conn, whole, where, args, hidden, limit, hits)
    words = [normalise(w) for w in query.split()]
    words = [w for w in words if w]
    if len(hits) < limit and len(words) > 1:
        more = _all_words(conn, words, where, args, hidden, limit, hits) or more
    if not hits and len(whole) >= 3:
        _fuzzy(conn, whole, where, args, hidden, limit, hits)
    return Result(list(hits.values())[:limit], more or len(hits) > limit)


def _rows(conn, sql: str, args: list[object]) -> list[tuple]:
    return conn.execute(sql, args).fetchall()


def _prefix(conn, word, where, args, hidden, limit, hits: dict[str, Hit]) -> bool:
    """Keys starting with `word`, exact ones first; True when there are more than `limit`."""
    rows = _rows(
        conn,
        "SELECT d.code, d.name, d.unit, d.home, k.field FROM dossier_keys k JOIN dossiers d ON d.code = k.code"
        f" WHERE k.key >= ? AND k.key < ?{where} ORDER BY k.key, k.code LIMIT ?",
        [word, word + TOP, *args, (limit + len(hidden)) * 3 + 1],
    )
    for code, name, unit, home, source in rows:
        if code not in hidden and code not in hits:
            hits[code] = Hit(code, name, unit, home, source)
    return len(hits) > limit or len(rows) > (limit + len(hidden)) * 3


def _all_words(conn, words, where, args, hidden, limit, hits: dict[str, Hit]) -> bool:
    """Every word a prefix of some key of the dossier: candidates from the longest word, checked in Python."""
    driver = max(words, key=len)
    rows = _rows(
        conn,
        "SELECT DISTINCT d.code, d.name, d.unit, d.home, d.fields FROM dossier_keys k JOIN dossiers d"
        f" ON d.code = k.code WHERE k.key >= ? AND k.key < ?{where} LIMIT 2000",
        [driver, driver + TOP, *args],
    )
    found = 0
    for code, name, unit, home, fields in rows:
        if code in hidden or code in hits:
            continue
        keys = [k for k, _, _ in keys_of(code, name, unit, json.loads(fields))]
        if all(any(k.startswith(w) for k in keys) for w in words):
            hits[code] = Hit(code, name, unit, home, "words")
            found += 1
    return len(hits) > limit


def _glob(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def _one_edit(word: str, i: int) -> list[str]:
    """GLOB patterns for `word` with one edit at position i: a letter changed, one too many, one left out,
    two swapped."""
    head, rest = _glob(word[:i]), word[i:]
    patterns = [head + "?" + _glob(rest[1:]), head + _glob(rest[1:]), head + "?" + _glob(rest)]
    if len(rest) >= 2:
        patterns.append(head + _glob(rest[1] + rest[0] + rest[2:]))
    return patterns


def _fuzzy(conn, word, where, args, hidden, limit, hits: dict[str, Hit]) -> None:
    """Keys one edit away from `word` (or starting so). An edit at position i leaves word[:i] a prefix of the key
    and word[i+1:] its end: an edit in the second half is looked for among the keys sharing the first half, one
    in the first half among the keys of about the word's length sharing its second half (reversed keys), each
    an index range that GLOB patterns narrow in SQLite itself. Then rapidfuzz orders them by edit distance."""
    candidates: dict[str, str] = {}
    n = len(word)
    reverse = word[::-1]
    for i in range(n):
        if i >= n // 2:
            head, edits = word[:i], [p + "*" for p in _one_edit(word, i)]
            found = conn.execute(
                "SELECT key, code FROM dossier_keys WHERE key >= ? AND key < ? AND field IN ('code', 'name', 'pinyin')"
                f" AND ({' OR '.join('key GLOB ?' for _ in edits)}) LIMIT ?",
                (head, head + TOP, *edits, FUZZY_POOL),
            ).fetchall()
        else:
            j = n - 1 - i  # the same edit, counted from the end
            tail, edits = reverse[:j], _one_edit(reverse, j)
            found = [
                (rkey[::-1], code)
                for rkey, code in conn.execute(
                    "SELECT rkey, code FROM dossier_rkeys WHERE length(rkey) IN (?, ?, ?) AND rkey >= ? AND rkey < ?"
                    f" AND ({' OR '.join('rkey GLOB ?' for _ in edits)}) LIMIT ?",
                    (n - 1, n, n + 1, tail, tail + TOP, *edits, FUZZY_POOL),
                ).fetchall()
            ]
        for key, code in found:
            candidates.setdefault(key, code)
    allowed = 1 if n <= 6 else 2
    scored = []
    for key, code in candidates.items():
        if code in hits or code in hidden:
            continue
        distance = min(OSA.distance(word, key), OSA.distance(word, key[: len(word)]))
        if distance <= allowed:
            scored.append((distance, key, code))
    scored.sort()
    closest = [entry for entry in scored if entry[0] == scored[0][0]] if scored else []
    codes = list(dict.fromkeys(code for _, _, code in closest))[: limit - len(hits) + 1]
    if not codes:
        return
    marks = ",".join("?" * len(codes))
    rows = {
        row[0]: row
        for row in _rows(
            conn, f"SELECT d.code, d.name, d.unit, d.home FROM dossiers d WHERE d.code IN ({marks}){where}",
            [*codes, *args],
        )
    }  # fmt: skip
    for code in codes:
        if code in rows:
            hits[code] = Hit(*rows[code], matched="fuzzy", fuzzy=True)
