"""Check-out and return (借阅/归还): requests, approvals, the loan document the gateways check against, returns.

A request names the requester (the user filing it), the dossiers, the purpose and the period in days (the
site's `tracking.loans`: a week by default, at most `max_days`). A user of a role with the authority
(dashboard/access.py) approves or refuses it; nobody requests or approves their own dossier or a listed
relative's (dashboard/relations.py), and nobody approves their own request.

Approved loans reach every gateway as one versioned, retained document (`cmd/loans`, protocol.LoanList),
sent again whenever it changes: an approval, a refusal, a checkout or a return. The gateways check out and
take back (gateway/loans.py) and say so in `dossier_checked_out` / `dossier_returned` events: a dossier's
checkout state is read from those events, as the gateway reported it. A return is confirmed at the desk
with the pages counted, against the digitization manifest's count when the dossier has one.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dashboard import relations
from dashboard.schema import iso, parse_iso
from gateway import protocol
from hardware.config import SiteConfig

log = logging.getLogger(__name__)

MAX_DOSSIERS = 20
EVENTS = ("dossier_checked_out", "dossier_returned")
RetainedPublisher = Callable[..., bool]
"""Ingest.publish: (topic, payload, retain=True) -> sent."""


class LoanError(ValueError):
    """A request, decision or confirmation that is refused; the message says why (in English, for the audit)."""


def request(
    conn: sqlite3.Connection, site: SiteConfig, *, user_id: int, user: str, codes: list[str], purpose: str,
    days: int | None, at: datetime,
) -> int:  # fmt: skip
    """File a request; its id. `conn` in autocommit mode."""
    codes = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not codes:
        raise LoanError("name at least one dossier")
    if len(codes) > MAX_DOSSIERS:
        raise LoanError(f"at most {MAX_DOSSIERS} dossiers in one request")
    if not purpose.strip():
        raise LoanError("say what the dossiers are needed for (purpose)")
    limits = site.tracking.loans
    days = limits.default_days if days is None else days
    if not 1 <= days <= limits.max_days:
        raise LoanError(f"the period must be 1 to {limits.max_days} days")
    marks = ",".join("?" * len(codes))
    known = {c for (c,) in conn.execute(f"SELECT code FROM dossiers WHERE code IN ({marks})", codes)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise LoanError(f"not in the register: {', '.join(unknown)}")
    for code in codes:
        relation = relations.relation_to(conn, user_id, code)
        if relation is not None:
            raise LoanError(f"nobody may request their own dossier or a relative's ({code}: {relation})")
    busy = conn.execute(
        f"SELECT i.code, r.id FROM loan_items i JOIN loan_requests r ON r.id = i.request"
        f" WHERE r.state IN ('pending', 'approved') AND i.code IN ({marks})",
        codes,
    ).fetchone()
    if busy:
        raise LoanError(f"{busy[0]} is requested or on loan already (request {busy[1]})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT INTO loan_requests (requester_id, requester, purpose, days, requested) VALUES (?, ?, ?, ?, ?)",
            (user_id, user, purpose.strip()[:500], days, iso(at)),
        )
        number = int(cursor.lastrowid or 0)
        conn.executemany("INSERT INTO loan_items (request, code) VALUES (?, ?)", [(number, c) for c in codes])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return number


REQUEST_COLUMNS = ("id", "requester_id", "requester", "purpose", "days", "requested", "state", "decided_by",
                   "decided_at", "due", "note")  # fmt: skip


def get(conn: sqlite3.Connection, request_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM loan_requests WHERE id = ?", (request_id,)).fetchone()
    if row is None:
        return None
    found = dict(zip(REQUEST_COLUMNS, row, strict=True))
    found["codes"] = [c for (c,) in conn.execute("SELECT code FROM loan_items WHERE request = ? ORDER BY code",
                                                 (request_id,))]  # fmt: skip
    return found


def decide(
    conn: sqlite3.Connection, request_id: int, *, user_id: int, user: str, approve: bool, note: str, at: datetime
) -> dict[str, Any]:
    """Approve or refuse a pending request; the request as it is now."""
    found = get(conn, request_id)
    if found is None:
        raise LoanError(f"no request {request_id}")
    if found["state"] != "pending":
        raise LoanError(f"request {request_id} is {found['state']}, not pending")
    if found["requester_id"] == user_id:
        raise LoanError("nobody decides their own request")
    for code in found["codes"]:
        relation = relations.relation_to(conn, user_id, code)
        if relation is not None:
            raise LoanError(f"nobody may approve a loan of their own dossier or a relative's ({code}: {relation})")
    due = iso(at + timedelta(days=found["days"])) if approve else None
    conn.execute(
        "UPDATE loan_requests SET state = ?, decided_by = ?, decided_at = ?, due = ?, note = ? WHERE id = ?",
        ("approved" if approve else "refused", user, iso(at), due, note.strip()[:500], request_id),
    )
    return get(conn, request_id) or found


def _events(conn: sqlite3.Connection, code: str, since: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """The dossier's checkout and return events (kind, ts, data), oldest first."""
    rows = conn.execute(
        "SELECT kind, ts, data FROM events WHERE kind IN (?, ?) AND json_extract(data, '$.code') = ?"
        " AND ts >= ? ORDER BY ts, seq",
        (*EVENTS, code, since or ""),
    ).fetchall()
    return [(kind, ts, json.loads(data)) for kind, ts, data in rows]


def events_of(conn: sqlite3.Connection, code: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The dossier's checkout and return events, oldest first."""
    return _events(conn, code)


def current_checkout(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    """The dossier's checkout if its last checkout has no return after it: loan, borrower, due, since, reader."""
    events = _events(conn, code)
    if not events or events[-1][0] != "dossier_checked_out":
        return None
    _kind, ts, data = events[-1]
    return {"loan": data.get("loan"), "borrower": data.get("borrower"), "due": _due(data.get("due")), "since": ts,
            "reader": data.get("reader")}  # fmt: skip


def _due(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return iso(datetime.fromisoformat(text))
    except ValueError:
        return None


def item_states(conn: sqlite3.Connection, loan: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each dossier of an approved (or closed) loan: approved, out, returned (to confirm), or confirmed."""
    confirmed = {
        code: {"pages": pages, "expected_pages": expected}
        for code, pages, expected in conn.execute(
            "SELECT code, pages, expected_pages FROM loan_returns WHERE request = ?", (loan["id"],)
        )
    }
    items = []
    for code in loan["codes"]:
        state, since = "approved", None
        for kind, ts, data in _events(conn, code, loan["decided_at"]):
            if data.get("loan") not in (loan["id"], None):
                continue
            state, since = ("out" if kind == "dossier_checked_out" else "returned"), ts
        if code in confirmed:
            state = "confirmed"
        overdue = state == "out" and loan["due"] is not None and parse_iso(loan["due"]) < now
        items.append({"code": code, "state": state, "since": since, "overdue": overdue, **confirmed.get(code, {})})
    return items


def requests(conn: sqlite3.Connection, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Pending requests first, then approved ones, then the rest; newest first within each."""
    ids = [i for (i,) in conn.execute(
        "SELECT id FROM loan_requests ORDER BY CASE state WHEN 'pending' THEN 0 WHEN 'approved' THEN 1 ELSE 2 END,"
        " id DESC LIMIT ?", (limit,))]  # fmt: skip
    shown = []
    for number in ids:
        loan = get(conn, number)
        assert loan is not None
        loan["items"] = item_states(conn, loan, now) if loan["state"] in ("approved", "closed") else []
        loan["overdue"] = any(i["overdue"] for i in loan["items"])
        shown.append(loan)
    return shown


def confirm_return(
    conn: sqlite3.Connection, request_id: int, code: str, *, pages: int, by: str, at: datetime,
    expected: int | None = None,
) -> bool:  # fmt: skip
    """Record the page count of a returned dossier; True when that closed the loan (every dossier back)."""
    loan = get(conn, request_id)
    if loan is None or code not in loan["codes"]:
        raise LoanError(f"dossier {code} is not on request {request_id}")
    state = next(i for i in item_states(conn, loan, at) if i["code"] == code)["state"]
    if state != "returned":
        raise LoanError(f"dossier {code} is {state}: only a returned dossier's pages are confirmed")
    if pages < 0:
        raise LoanError("the page count cannot be negative")
    conn.execute(
        "INSERT INTO loan_returns (request, code, pages, expected_pages, confirmed_by, confirmed_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (request_id, code, pages, expected, by, iso(at)),
    )
    if all(i["state"] == "confirmed" for i in item_states(conn, loan, at)):
        conn.execute("UPDATE loan_requests SET state = 'closed' WHERE id = ?", (request_id,))
        return True
    return False


def grants(conn: sqlite3.Connection, now: datetime) -> list[protocol.LoanGrant]:
    """Every dossier that may leave now: approved, not yet back."""
    found = []
    ids = [i for (i,) in conn.execute("SELECT id FROM loan_requests WHERE state = 'approved' ORDER BY id")]
    for number in ids:
        loan = get(conn, number)
        assert loan is not None
        for item in item_states(conn, loan, now):
            if item["state"] in ("approved", "out"):
                found.append(protocol.LoanGrant(loan=number, code=item["code"], borrower=loan["requester"],
                                                due=parse_iso(loan["due"]), out=item["state"] == "out"))  # fmt: skip
    return found[: protocol.MAX_LOANS]


def publish_document(
    conn: sqlite3.Connection, site: SiteConfig, publish: RetainedPublisher | None, now: datetime
) -> int | None:
    """Send the current loan document to every gateway, retained; its version (None if nothing could be sent)."""
    if publish is None:
        return None
    loans = grants(conn, now)
    cursor = conn.execute("INSERT INTO loan_documents (issued, loans, sent) VALUES (?, ?, 0)", (iso(now), len(loans)))
    version = int(cursor.lastrowid or 0)
    document = protocol.LoanList(id=protocol.new_id(), ts=now, version=version, loans=loans).to_json()
    sent = [publish(protocol.Topics(site.site.id, g).cmd("loans"), document, retain=True) for g in site.gateway_ids]
    conn.execute("UPDATE loan_documents SET sent = ? WHERE version = ?", (sum(sent), version))
    if not all(sent):
        log.warning("loan document %d reached %d of %d gateways' topics", version, sum(sent), len(sent))
    return version


def expected_pages(conn: sqlite3.Connection, site: SiteConfig, code: str) -> int | None:
    """How many pages the dossier has by its digitization: the pages its copy-stand sessions sent (the
    dashboard's `pages` table, filled from the gateways' `page` events); None when it was never digitized."""
    (count,) = conn.execute(
        "SELECT count(*) FROM pages WHERE site = ? AND dossier = ?", (site.site.id, code)
    ).fetchone()
    return count or None
