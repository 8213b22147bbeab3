"""Check-out and return at the gateway: the desk reader checks out only against an approved loan, the door reader
raises an alarm for a dossier that leaves without one. Broker or not.

The dashboard sends the approved loans as one versioned, retained document (`cmd/loans`,
protocol.LoanList). The gateway keeps the newest on disk (`loans.json` beside its outbox, replaced
atomically), with what it checked out itself, so after a restart or with the broker down it still knows.

At a desk reader (a reader whose location is a `desk` point of tracking.points), a dossier tag:
- already out (checked out here, or out per the document): `dossier_returned`;
- with an approved loan: `dossier_checked_out`, naming the borrower and the due date;
- else `checkout_refused` (info, for the keeper at the desk): there is no approval to check it out against.
At a door reader, a dossier not out raises `unauthorised_removal` (alarm). A loan past its due date raises
`loan_overdue` (warning), cleared when the dossier is returned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway import protocol
from gateway.settings import Settings
from hardware.config import SiteConfig

log = logging.getLogger(__name__)

Emit = Callable[..., None]
"""GatewayService.event: queue one event (kind, severity=..., device=..., message=..., data=...)."""


class LoanDesk:
    def __init__(self, site: SiteConfig, path: Path, now: Callable[[], datetime], emit: Emit) -> None:
        self.now, self.emit = now, emit
        self.file = Settings(path)
        if self.file.damaged:
            log.error("%s", self.file.damaged)
        points = {p.code: p.kind for p in site.tracking.points}
        self.kinds = {r.id: points.get(r.location, "station") for r in site.rfid.readers}
        self._lock = threading.RLock()  # reads come on the reader thread, overdue checks on the main loop

    # -- the document from the dashboard ---------------------------------------------------------

    @property
    def version(self) -> int:
        return int(self.file.get("version") or 0)

    def grants(self) -> dict[str, dict[str, Any]]:
        return {g["code"]: g for g in self.file.get("grants") or []}

    def out(self) -> dict[str, dict[str, Any]]:
        """What this gateway checked out and has not seen returned, by dossier code."""
        return dict(self.file.get("out") or {})

    def apply(self, document: protocol.LoanList) -> tuple[bool, str]:
        """Keep a newer loan document; an older or repeated one changes nothing."""
        with self._lock:
            return self._apply(document)

    def _apply(self, document: protocol.LoanList) -> tuple[bool, str]:
        if document.version <= self.version:
            return True, f"loans version {document.version} ignored: version {self.version} is in force"
        grants = [g.model_dump(mode="json") for g in document.loans]
        self.file.set("grants", grants)
        self.file.set("version", document.version)
        # A dossier the dashboard no longer lists was returned or its loan withdrawn elsewhere.
        listed = {g["code"] for g in grants}
        self.file.set("out", {code: o for code, o in self.out().items() if code in listed})
        return True, f"loans version {document.version}: {len(grants)} dossier(s) may leave"

    # -- reads at the desk and the door ---------------------------------------------------------

    def on_dossier(self, reader: str, code: str) -> None:
        """A genuine dossier tag read at `reader`."""
        with self._lock:
            self._on_dossier(reader, code)

    def _on_dossier(self, reader: str, code: str) -> None:
        kind = self.kinds.get(reader, "station")
        if kind == "desk":
            self._at_desk(reader, code)
        elif kind == "door" and not self._is_out(code):
            self.emit(
                "unauthorised_removal",
                severity="alarm",
                device=reader,
                message=f"dossier {code} at the door without a checkout",
                data={"code": code, "reader": reader},
            )

    def _is_out(self, code: str) -> bool:
        return code in self.out() or bool(self.grants().get(code, {}).get("out"))

    def _at_desk(self, reader: str, code: str) -> None:
        grant = self.grants().get(code)
        if self._is_out(code):
            taken = self.out().pop(code, None) or grant or {}
            self._set_out({k: v for k, v in self.out().items() if k != code})
            loan = taken.get("loan")
            self.emit("dossier_returned", device=reader, message=f"dossier {code} returned",
                      data={"code": code, "loan": loan, "reader": reader})  # fmt: skip
            if taken.get("overdue"):
                self._overdue(code, taken, cleared=True)
            return
        if grant is None:
            self.emit("checkout_refused", device=reader,
                      message=f"dossier {code} has no approved loan: not checked out",
                      data={"code": code, "reader": reader})  # fmt: skip
            return
        self._set_out(self.out() | {code: {**grant, "since": protocol.utc_now().isoformat(), "overdue": False}})
        self.emit(
            "dossier_checked_out",
            device=reader,
            message=f"dossier {code} checked out to {grant['borrower']} until {grant['due']}",
            data={"code": code, "loan": grant["loan"], "borrower": grant["borrower"], "due": grant["due"],
                  "reader": reader},
        )  # fmt: skip

    def _set_out(self, out: dict[str, dict[str, Any]]) -> None:
        self.file.set("out", out)

    # -- overdue ----------------------------------------------------------------------------------

    def check_overdue(self) -> None:
        """Raise `loan_overdue` once for each dossier checked out here and not back by its due date."""
        with self._lock:
            self._check_overdue()

    def _check_overdue(self) -> None:
        now = self.now()
        out = self.out()
        changed = False
        for code, taken in out.items():
            if not taken.get("overdue") and datetime.fromisoformat(taken["due"]) < now:
                taken["overdue"] = True
                changed = True
                self._overdue(code, taken, cleared=False)
        if changed:
            self._set_out(out)

    def _overdue(self, code: str, taken: dict[str, Any], *, cleared: bool) -> None:
        self.emit(
            "loan_overdue",
            severity="warning",
            device=f"loan-{taken.get('loan')}",
            message=f"dossier {code} {'is back' if cleared else 'is overdue'} (due {taken.get('due')})",
            data={"code": code, "loan": taken.get("loan"), "borrower": taken.get("borrower"), "cleared": cleared},
        )

    def desk_work(self, after_s: float) -> list[str]:
        """For the simulated keeper: dossiers approved and not yet out, and those out for longer than `after_s`."""
        now = protocol.utc_now()
        waiting = [code for code, grant in self.grants().items() if not self._is_out(code)]
        back = [
            code
            for code, taken in self.out().items()
            if (now - datetime.fromisoformat(taken["since"])).total_seconds() > after_s
        ]
        return waiting + back
