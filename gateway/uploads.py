"""Corrected dossier pages, from the copy stand to the dashboard: metadata on MQTT, files over HTTP.

`submit_page` and `submit_dossier` do only local work, no network: each file is linked into a spool
folder under its SHA-256 (a hard link, so a retake that replaces `0003.png` cannot change what is queued),
flushed to disk, checked against the manifest's hash, and recorded with the event that describes it in an SQLite queue
beside the outbox (WAL, synchronous=FULL). The event then goes to the outbox; a crash between the two is
repaired on the next start, which sends the recorded event again (a repeat replaces a page with itself).

The uploader thread sends the queued files oldest first over HTTP, as the gateway itself (HTTP Basic: its
id and its broker password), with the small resumable protocol of docs/PROTOCOL.md ("Page files"):

    GET   /api/uploads/<sha256>    how much of the file the dashboard has: {"offset", "complete"}
    PATCH /api/uploads/<sha256>    the next piece, with `Upload-Offset` and `Upload-Length`

A file the dashboard has already is not sent again; a broken connection costs at most one piece (the next
try starts from the offset the dashboard reports); the dashboard checks the SHA-256 before it keeps a file
and refuses a corrupt one, which is then sent again from the start. While the dashboard cannot be reached
the uploader waits `pages.retry_s`, doubling up to `pages.retry_max_s`, and nothing is dropped: a file
leaves the queue only when the dashboard has it, complete and verified. A master (or bitonal copy) the
dashboard has had for `pages.keep_masters_days`, and an access copy it has had for `pages.keep_access_days`,
are then removed from the gateway's disk (`prune_delivered`). The dashboard makes each dossier's PDF from
the access copies it holds; the gateway keeps only the manifest, from which a continued session numbers on.

Example (the gateway service does this; the copy-stand session calls `submit_page` for each saved page):

    uploads = PageUploads(site, "gw-east", service.event, clock)
    uploads.start()
    uploads.submit_page(root, "A01-0001", entry)   # entry: the page's entry in <root>/A01-0001/manifest.json
    uploads.submit_dossier(root, "A01-0001")       # after the session: the manifest
    uploads.stop()
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from gateway import protocol
from gateway.outbox import immediate
from hardware.background import Background
from hardware.broker import read_password
from hardware.clock import Clock, WallClock
from hardware.config import SiteConfig
from hardware.files import sha256_of

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    name TEXT NOT NULL,
    dossier TEXT NOT NULL,
    page INTEGER,
    kind TEXT NOT NULL,
    queued REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    sha256 TEXT NOT NULL,
    dossier TEXT NOT NULL,
    name TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (dossier, name, sha256)
);
"""
CARRIED_OVER = """
INSERT OR IGNORE INTO delivered SELECT sha256, dossier, name, at FROM delivered_masters;
DROP TABLE delivered_masters;
"""
"""A queue from before the PDF was removed too named its table `delivered_masters`: its rows are kept."""
REMOVABLE = ("master", "bitonal", "access", "pdf")
"""The kinds of file a gateway removes in time once delivered: every file it never reads again. Only the
manifest stays (a continued session numbers on from it); `pdf` is a PDF an older gateway made itself."""
PRUNE_EVERY_S = 600.0
"""How often (at most) the uploader looks for delivered files it may remove from the gateway's disk."""
UPLOAD_CONTENT_TYPE = "application/offset+octet-stream"


class UploadError(ValueError):
    """A page or dossier that cannot be queued (a file missing, or not what the manifest says); says which."""


@dataclass
class UploadStats:
    files_uploaded: int = 0
    already_there: int = 0
    bytes_sent: int = 0
    retries: int = 0
    refused: int = 0
    """Answers of the dashboard other than success (4xx, a corrupt upload): logged, tried again later."""
    damaged: int = 0
    """Queued files whose copy on the gateway's disk is gone or no longer has its SHA-256: never sendable,
    taken off the queue with a `page_file_damaged` event (the keeper retakes the page)."""
    last_error: str = ""


@dataclass(frozen=True)
class Queued:
    id: int
    sha256: str
    bytes: int
    name: str
    dossier: str
    page: int | None
    kind: str
    attempts: int = 0
    """Tries that failed so far (the dashboard unreachable, or it refused the file)."""
    last_error: str = ""


QUEUED_COLUMNS = "id, sha256, bytes, name, dossier, page, kind, attempts, last_error"


class _Unreachable(Exception):
    """The dashboard did not answer (refused, timed out, 5xx): wait and try everything again."""


class _Refused(Exception):
    """The dashboard answered this file with an error: try it again later, the others meanwhile."""


class _Damaged(Exception):
    """The queued copy itself is gone or changed (a failing SD card): no try will ever deliver it."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _removable_hashes(folder: Path) -> dict[str, tuple[str, str]]:
    """File name -> (SHA-256, kind) of the dossier's removable files (REMOVABLE), as its manifest records them now."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = [(kind, ref) for p in manifest["pages"] for kind, ref in p.get("files", {}).items()]
        files = [(kind, ref) for kind, ref in files if kind in REMOVABLE]
        if manifest.get("pdf"):
            files.append(("pdf", manifest["pdf"]))
        return {Path(ref["path"]).name: (ref["sha256"], kind) for kind, ref in files}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # unreadable: remove nothing
        log.error("%s: cannot read its manifest (%s); its files stay", folder, exc)
        return {}


def queue_path(site: SiteConfig, gateway_id: str) -> Path:
    """The gateway's upload queue, beside its outbox."""
    return site.outbox_path(gateway_id).with_name("uploads.db")


def queued(path: Path) -> list[Queued]:
    """The files waiting in the queue at `path` (uploads.db), read as another process would."""
    if not Path(path).exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            rows = db.execute(f"SELECT {QUEUED_COLUMNS} FROM files ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the tables are not made yet
            return []
    return [Queued(*row) for row in rows]


class PageUploads(Background):
    """The queue of page files of one gateway and the thread that uploads them. Safe to share between threads."""

    thread_name = "page-uploads"

    def __init__(
        self,
        site: SiteConfig,
        gateway_id: str,
        event: Callable[..., None],
        clock: Clock | None = None,
        *,
        password: str | None = None,
    ) -> None:
        super().__init__()
        site.gateway(gateway_id)  # a ConfigError naming the gateways if it is not one of them
        self.site = site
        self.gateway_id = gateway_id
        self._event = event
        self.clock = clock or WallClock()
        self.settings = site.pages
        self.base_url = site.upload_url
        self.path = queue_path(site, gateway_id)
        self.spool = self.path.with_name("uploads")
        self.spool.mkdir(parents=True, exist_ok=True)
        self._credentials = (gateway_id, password or read_password(site, gateway_id))
        self.in_use: Callable[[], Collection[str]] = frozenset
        """The dossiers open at a copy stand now (gateway/stands.py): their files stay until the session ends,
        so the station never shows a page whose file was removed under it."""
        self.stats = UploadStats()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'delivered_masters'").fetchone():
            conn.executescript(f"BEGIN; {CARRIED_OVER} COMMIT;")
        self._db = conn
        self._tidy_spool()
        self._resend_events()

    # -- queueing (called by the copy-stand session) ------------------------------------------------

    def submit_page(self, root: Path, dossier: str, entry: dict) -> None:
        """Queue one saved page: its `page` event and its files. Durable when it returns.

        `entry` is the page's entry in `<root>/<dossier>/manifest.json` as vision.outputs.save_page writes
        it. A retaken page (same number, new files) replaces the old one at the dashboard.
        """
        folder = Path(root) / dossier
        try:
            files = entry["files"]
            record = protocol.PageRecord(
                dossier=dossier,
                page=entry["page"],
                captured=datetime.fromisoformat(entry["captured"]),
                device=str(entry["device"])[:200],
                dpi=float(entry["dpi"]),
                files={kind: self._ref(folder, kind, files[kind]) for kind in protocol.PAGE_FILES if kind in files},
                qc_ok=bool(entry["qc"]["ok"]),
                checks={
                    name: protocol.QcCheck(
                        ok=bool(c["ok"]),
                        value=float(c["value"]),
                        limit=float(c["limit"]),
                        reason=str(c.get("reason", ""))[:200],
                    )
                    for name, c in entry["qc"]["checks"].items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadError(f"{folder}: page entry {str(entry)[:200]}: {type(exc).__name__}: {exc}") from None
        data = protocol.page_data(record)
        try:
            protocol.read_page(data)  # what the dashboard will check, checked here first
        except protocol.ProtocolError as exc:
            raise UploadError(f"{folder}: page {record.page}: {exc}") from None
        verdict = "ok" if record.qc_ok else "retake: " + ", ".join(n for n, c in record.checks.items() if not c.ok)
        fields = {"message": f"{dossier} page {record.page}: {verdict}"[:500], "data": data}
        self._queue(record.files, dossier, record.page, "page", fields, folder)

    def submit_dossier(self, root: Path, dossier: str) -> None:
        """Queue a dossier's manifest (after a copy-stand session) with a `dossier_scanned` event.

        No PDF: the dashboard makes the dossier's PDF itself from the access copies of all its pages, which
        the gateway no longer has once they are delivered (`prune_delivered`).
        """
        folder = Path(root) / dossier
        manifest_path = folder / "manifest.json"
        try:
            content = manifest_path.read_bytes()
            count = len(json.loads(content)["pages"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UploadError(f"{manifest_path}: cannot be read ({exc})") from None
        if not count:
            raise UploadError(f"{folder}: the dossier has no page yet")
        entry = {"path": "manifest.json", "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
        files = {"manifest": self._ref(folder, "manifest", entry)}
        scan = protocol.DossierScan(dossier=dossier, pages=count, files=files)
        data = protocol.dossier_scan_data(scan)
        try:
            protocol.read_dossier_scan(data)
        except protocol.ProtocolError as exc:
            raise UploadError(f"{folder}: {exc}") from None
        fields = {"message": f"{dossier}: {scan.pages} page(s) scanned", "data": data}
        self._queue(files, dossier, None, "dossier_scanned", fields, folder)

    def pending(self) -> list[Queued]:
        """The files not yet at the dashboard, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {QUEUED_COLUMNS} FROM files ORDER BY id").fetchall()
        return [Queued(*row) for row in rows]

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._db.close()

    # -- queueing, inside -------------------------------------------------------------------------

    def _ref(self, folder: Path, kind: str, entry: dict) -> protocol.FileRef:
        """The manifest's entry of one file, with the file linked into the spool under its hash."""
        path = folder / str(entry["path"])
        sha, size = str(entry["sha256"]), int(entry["bytes"])
        if folder.resolve() not in path.resolve().parents:
            raise UploadError(f"{folder}: {kind} file {entry['path']!r} is outside the dossier's folder")
        if not protocol._SHA256.fullmatch(sha):
            raise UploadError(f"{path}: {sha!r} is not a SHA-256")
        target = self.spool / sha
        if not target.exists():
            part = self.spool / f"{sha}.{os.getpid()}.{threading.get_ident()}.part"
            try:
                try:
                    os.link(path, part)  # same inode: a retake writes a new file, this one stays as it is
                except FileNotFoundError:
                    raise UploadError(f"{path}: no such file ({kind} of the manifest)") from None
                except OSError:  # another file system, or links not allowed: a copy
                    shutil.copyfile(path, part)
                # On disk before the queue's row says it is queued (the row is synchronous=FULL): a file
                # written a moment ago may still be in the page cache only, and after a power cut ext4 leaves
                # a new file empty, so the queue would hold a page whose bytes are gone. Linked, this flushes
                # the dossier folder's file itself (one inode).
                with part.open("rb") as f:
                    os.fsync(f.fileno())
                found = sha256_of(part)
                if found != sha:
                    raise UploadError(
                        f"{path}: its SHA-256 is {found}, the manifest says {sha}: the file changed after it was saved"
                    )
                os.replace(part, target)
                _fsync_dir(self.spool)
            finally:
                part.unlink(missing_ok=True)
        if target.stat().st_size != size:
            raise UploadError(f"{path}: {target.stat().st_size} bytes, the manifest says {size}")
        return protocol.FileRef(sha256=sha, bytes=size, name=Path(entry["path"]).name)

    def _queue(
        self,
        files: dict[str, protocol.FileRef],
        dossier: str,
        page: int | None,
        kind: str,
        fields: dict[str, Any],
        folder: Path,
    ) -> None:
        now = self.clock.time()
        with self._lock, self._transaction():
            for file_kind, ref in files.items():  # access copy first: what archivists look at
                self._db.execute(
                    "INSERT INTO files (sha256, bytes, name, dossier, page, kind, queued) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ref.sha256, ref.bytes, ref.name, dossier, page, file_kind, now),
                )
            event_id = self._db.execute(
                "INSERT INTO events (kind, fields) VALUES (?, ?)", (kind, json.dumps(fields, ensure_ascii=False))
            ).lastrowid
        self._send_event(event_id, kind, fields)
        log.info("queued %s of %s (%d file(s)) from %s", kind, dossier, len(files), folder)
        self._wake.set()

    def _send_event(self, event_id: int, kind: str, fields: dict[str, Any]) -> None:
        self._event(kind, **fields)
        with self._lock:
            self._db.execute("DELETE FROM events WHERE id = ?", (event_id,))

    def _tidy_spool(self) -> None:
        """Remove what no queued file needs: links left by a page refused while it was being queued, or by a crash."""
        with self._lock:
            needed = {sha for (sha,) in self._db.execute("SELECT DISTINCT sha256 FROM files")}
        for path in self.spool.iterdir():
            if path.name not in needed:
                path.unlink(missing_ok=True)

    def _resend_events(self) -> None:
        """Events recorded with their files but not handed to the outbox before a crash: hand them over now."""
        with self._lock:
            rows = self._db.execute("SELECT id, kind, fields FROM events ORDER BY id").fetchall()
        for event_id, kind, fields in rows:
            log.warning("sending the %s event queued before a restart again", kind)
            self._send_event(event_id, kind, json.loads(fields))

    def _transaction(self) -> AbstractContextManager[None]:
        return immediate(self._db)

    # -- the uploader thread ------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        super().stop()

    def _run(self) -> None:
        session = requests.Session()
        session.auth = self._credentials
        session.headers["User-Agent"] = f"storeroom-gateway/{self.gateway_id}"
        delay = self.settings.retry_s
        not_before: dict[int, tuple[float, float]] = {}  # file id -> (retry at, its delay) after a refusal
        pruned_at = float("-inf")
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                due = [q for q in self.pending() if not_before.get(q.id, (0.0, 0.0))[0] <= now]
                if self.clock.time() - pruned_at >= PRUNE_EVERY_S:
                    pruned_at = self.clock.time()
                    try:
                        self.prune_delivered()
                    except Exception:  # tidying must never stop the uploads
                        log.exception("removing delivered files failed; trying again later")
                if not due:
                    waits = [at - now for at, _ in not_before.values()] or [5.0]
                    self._wake.wait(max(0.05, min(*waits, 5.0)))
                    self._wake.clear()
                    continue
                item = due[0]
                try:
                    if not self._upload(session, item):
                        break  # stopped mid-file: the dashboard keeps what it has, the next start goes on
                except _Unreachable as exc:
                    self.stats.retries += 1
                    self.stats.last_error = str(exc)
                    self._failed(item, str(exc))
                    log.warning("dashboard unreachable (%s); %d file(s) wait, next try in %.1f s", exc, len(due), delay)
                    self._stop.wait(delay * random.uniform(0.8, 1.2))
                    delay = min(delay * 2, self.settings.retry_max_s)
                    continue
                except _Refused as exc:
                    self.stats.refused += 1
                    self.stats.last_error = str(exc)
                    self._failed(item, str(exc))
                    _, last = not_before.get(item.id, (0.0, self.settings.retry_s / 2))
                    wait = min(last * 2, self.settings.retry_max_s)
                    not_before[item.id] = (time.monotonic() + wait, wait)
                    log.error("%s %s of %s: %s; trying again in %.1f s", item.kind, item.name, item.dossier, exc, wait)
                    continue
                except _Damaged as exc:
                    try:
                        self._damaged(item, str(exc))
                        not_before.pop(item.id, None)
                    except Exception:  # the report itself failed: the file stays queued, to be reported again
                        log.exception("reporting the damaged %s of %s failed", item.name, item.dossier)
                        not_before[item.id] = (time.monotonic() + self.settings.retry_max_s, self.settings.retry_max_s)
                    continue
                except OSError as exc:  # the spool file itself: disk trouble on the gateway
                    self.stats.last_error = f"{item.sha256}: {exc}"
                    self._failed(item, f"the queued copy: {exc}")
                    not_before[item.id] = (time.monotonic() + self.settings.retry_max_s, self.settings.retry_max_s)
                    log.error("cannot read the queued file %s of %s: %s", item.name, item.dossier, exc)
                    continue
                except sqlite3.ProgrammingError:
                    if self._stop.is_set():  # closed under a request that outlived stop(): the row stays queued
                        return
                    raise
                except Exception as exc:  # a bug of ours, or an answer nobody foresaw: this file waits, others go
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    self._failed(item, self.stats.last_error)
                    not_before[item.id] = (time.monotonic() + self.settings.retry_max_s, self.settings.retry_max_s)
                    log.exception("uploading %s of %s failed unexpectedly", item.name, item.dossier)
                    continue
                not_before.pop(item.id, None)
                delay = self.settings.retry_s
                self._done(item)
        finally:
            session.close()

    def prune_delivered(self, root: Path | None = None) -> list[Path]:
        """Remove from the gateway the files the dashboard has had long enough; their paths. Masters and
        bitonal copies (and an older gateway's PDFs) go `pages.keep_masters_days` after delivery, access
        copies `pages.keep_access_days` after it. An older gateway's PDF that the queue knows nothing of goes
        `pages.keep_masters_days` after it was made (`_prune_old_pdfs`).

        Masters are most of a page's bytes (a 300 dpi colour TIFF or PNG is 10-30 MB, its access JPEG 1-2 MB),
        and a busy stand writes a gigabyte or two of access copies a day as well: kept for ever they fill a
        Pi's card. The dashboard keeps them, verified by SHA-256, from the moment the upload was confirmed,
        and makes the dossier's PDF from them. The manifest stays: a continued session numbers on from it.
        A file is removed only while the dossier's manifest, and the file itself, still hold the delivered
        hash (a retake or a continued session since then wrote a new file: that one waits for its own
        delivery), and never while its dossier is open at a copy stand (`in_use`): the station shows it.
        """
        now = self.clock.time()
        keep_days = {"access": self.settings.keep_access_days}
        cutoff = now - min(self.settings.keep_masters_days, self.settings.keep_access_days) * 86400
        root = root or self.site.pages_dir(self.gateway_id)  # where the copy stands write (gateway/stands.py)
        with self._lock:
            rows = self._db.execute(
                "SELECT sha256, dossier, name, at FROM delivered WHERE at <= ? ORDER BY at", (cutoff,)
            ).fetchall()
        open_now = set(self.in_use())
        removed: list[Path] = []
        manifests: dict[str, dict[str, tuple[str, str]]] = {}
        for sha, dossier, name, at in rows:
            if dossier in open_now:
                continue  # at a stand now: looked at again once its session has ended
            if dossier not in manifests:
                manifests[dossier] = _removable_hashes(root / dossier)
            listed, kind = manifests[dossier].get(name, ("", ""))
            if at > now - keep_days.get(kind, self.settings.keep_masters_days) * 86400:
                continue  # delivered, but not long enough ago for its kind
            path = root / dossier / name
            if listed == sha and path.is_file():
                try:
                    # The file itself, hashed just before it goes: a retake or a session's end may have put a
                    # new file under this name an instant ago, before it wrote the manifest that says so.
                    if sha256_of(path) != sha:
                        continue
                    path.unlink()
                except OSError as exc:  # read-only, or gone meanwhile: try again next time
                    log.error("cannot remove the delivered file %s: %s", path, exc)
                    continue
                removed.append(path)
            with self._lock:
                self._db.execute(
                    "DELETE FROM delivered WHERE sha256 = ? AND dossier = ? AND name = ?", (sha, dossier, name)
                )
        removed += self._prune_old_pdfs(root, now, open_now)
        if removed:
            log.info("removed %d file(s) the dashboard has had long enough", len(removed))
        return removed

    def _prune_old_pdfs(self, root: Path, now: float, open_now: set[str]) -> list[Path]:
        """Remove the dossier PDFs an older gateway made (`<dossier>/<dossier>.pdf`) that no row of the queue
        names, `pages.keep_masters_days` after they were written; their paths.

        This gateway makes no PDF (the dashboard makes it from the pages' access copies), but one made by an
        older version stays in the dossier's folder when the queue has no `delivered` row for it: delivered
        before the queue recorded PDFs (its table was `delivered_masters` then), or never queued. It holds
        nothing the access copies do not, and doubles what they take on the card. One still queued waits for
        its delivery (then the rule above removes it), as does one with a `delivered` row; so does one whose
        dossier is open at a stand. Without a delivery time, the file's own age stands in for it.
        """
        cutoff = now - self.settings.keep_masters_days * 86400
        with self._lock:
            named = set(self._db.execute("SELECT dossier, name FROM files UNION SELECT dossier, name FROM delivered"))
        try:
            folders = [folder for folder in root.iterdir() if (folder / "manifest.json").is_file()]
        except FileNotFoundError:  # no stand has written a page here yet
            return []
        removed: list[Path] = []
        for folder in folders:
            pdf = folder / f"{folder.name}.pdf"
            if folder.name in open_now or (folder.name, pdf.name) in named:
                continue
            try:
                if pdf.stat().st_mtime > cutoff:
                    continue
                pdf.unlink()
            except FileNotFoundError:  # the usual case: no PDF
                continue
            except OSError as exc:  # read-only: try again next time
                log.error("cannot remove the older gateway's PDF %s: %s", pdf, exc)
                continue
            removed.append(pdf)
        return removed

    def _failed(self, item: Queued, error: str) -> None:
        """Note a failed try on the file's row, for `storeroom gateway uploads` to show why it waits."""
        with self._lock:
            self._db.execute(
                "UPDATE files SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], item.id)
            )

    def _damaged(self, item: Queued, why: str) -> None:
        """Take a file that can never be delivered off the queue, and say so where people look.

        Retrying it would only fill the log for ever while the dashboard waits for a page that cannot come.
        The `page_file_damaged` event (a warning, so an alert on the dashboard) names the dossier and page for
        the keeper to retake; it goes to the outbox before the row goes, so a crash between the two says it
        twice rather than never.
        """
        self.stats.damaged += 1
        self.stats.last_error = f"{item.name} of {item.dossier}: {why}"
        log.error("%s %s of %s cannot be sent: %s; retake the page", item.kind, item.name, item.dossier, why)
        where = item.dossier if item.page is None else f"page {item.page} of {item.dossier}"
        self._event(
            "page_file_damaged",
            severity="warning",
            device=f"file-{item.sha256[:27]}",  # one alert per file (a device id: lower case, 32 characters)
            message=f"the {item.kind} of {where} is damaged on the gateway's disk ({why})"[:500],
            data={
                "dossier": item.dossier,
                "page": item.page,
                "file": item.kind,
                "name": item.name,
                "sha256": item.sha256,
            },
        )
        self._unqueue(item, delivered=False)

    def _done(self, item: Queued) -> None:
        self._unqueue(item, delivered=True)

    def _unqueue(self, item: Queued, delivered: bool) -> None:
        # The link goes with the last row that needs it. A page queued again later with the same file finds it
        # complete at the dashboard and needs no link.
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM files WHERE id = ?", (item.id,))
            if delivered and item.kind in REMOVABLE:  # the dashboard has it, verified: the gateway's copy may go
                self._db.execute(
                    "INSERT OR REPLACE INTO delivered (sha256, dossier, name, at) VALUES (?, ?, ?, ?)",
                    (item.sha256, item.dossier, item.name, self.clock.time()),
                )
            still = self._db.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (item.sha256,)).fetchone()
        if not still:
            (self.spool / item.sha256).unlink(missing_ok=True)

    def _request(self, session: requests.Session, method: str, sha: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}/api/uploads/{sha}"
        try:
            response = session.request(method, url, timeout=self.settings.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise _Unreachable(f"{method} {url}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise _Unreachable(f"{method} {url}: HTTP {response.status_code}")
        return response

    @staticmethod
    def _explain(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        return f"HTTP {response.status_code}: {message or response.text[:200]!r}"

    def _upload(self, session: requests.Session, item: Queued) -> bool:
        """Send one file from where the dashboard's copy ends: True once the dashboard has it, verified; False
        if stopped first."""
        answer = self._request(session, "GET", item.sha256)
        try:
            state = answer.json() if answer.status_code == 200 else None
        except ValueError:
            state = None
        if not isinstance(state, dict):
            raise _Refused(self._explain(answer))
        if state.get("complete"):
            self.stats.already_there += 1
            log.info("%s %s of %s: the dashboard has it already", item.kind, item.name, item.dossier)
            return True
        offset = state.get("offset", 0)
        if not isinstance(offset, int) or not 0 <= offset < item.bytes:
            offset = 0  # the dashboard's piece is longer than the file: start again
        chunk = self.settings.chunk_kib * 1024
        try:
            source = (self.spool / item.sha256).open("rb")
        except FileNotFoundError:
            raise _Damaged("the queued copy is gone from the gateway's disk") from None
        with source:
            while not self._stop.is_set():
                source.seek(offset)
                piece = source.read(chunk)
                answer = self._request(
                    session,
                    "PATCH",
                    item.sha256,
                    data=piece,
                    headers={
                        "Content-Type": UPLOAD_CONTENT_TYPE,
                        "Upload-Offset": str(offset),
                        "Upload-Length": str(item.bytes),
                    },
                )
                self.stats.bytes_sent += len(piece)
                reported = answer.headers.get("Upload-Offset", "")
                if answer.status_code in (200, 204) and reported.isdigit():
                    offset = int(reported)
                    if offset >= item.bytes:
                        self.stats.files_uploaded += 1
                        log.info("%s %s of %s uploaded (%d bytes)", item.kind, item.name, item.dossier, item.bytes)
                        return True
                elif answer.status_code == 409 and reported.isdigit():
                    offset = int(reported)  # the dashboard has more or less than we thought: go on from there
                    offset = offset if offset < item.bytes else 0
                else:
                    if answer.status_code == 422 and sha256_of(self.spool / item.sha256) != item.sha256:
                        raise _Damaged(f"the queued copy on the gateway's disk no longer has SHA-256 {item.sha256}")
                    raise _Refused(self._explain(answer))
        return False
