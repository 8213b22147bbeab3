"""Page files on the dashboard: kept on disk by SHA-256, uploaded by the gateways piece by piece.

    GET   /api/uploads/<sha256>   how much of the file is here: {"sha256", "offset", "length", "complete"}
                                  (also as headers `Upload-Offset`, `Upload-Length`; HEAD gives the headers only)
    PATCH /api/uploads/<sha256>   the next piece: `Upload-Offset` (where it starts), `Upload-Length` (the whole
                                  file's size), `Content-Type: application/offset+octet-stream`, the bytes

Only gateways may call these (HTTP Basic with the gateway's id and broker password: dashboard/access.py).
A piece must start where the dashboard's copy ends (else 409 with the right `Upload-Offset`); the piece
that completes the file makes the dashboard hash it, and it is kept only if the hash is the one its name
says (else 422, and the partial copy is dropped, so the gateway sends it again). A file the dashboard has
already is answered `complete` and not written again. docs/PROTOCOL.md ("Page files") is the contract.

On disk, under `pages.store_dir`: `files/<aa>/<sha256>` complete files, `partial/<sha256>-<length>` uploads
in progress (dropped when untouched for `pages.abandoned_upload_days`), `thumbs/<sha256>.jpg` small copies
for the page list. Content-addressed: a file's name is
its hash, so a retaken page is a new file and nothing is ever overwritten.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from dashboard.access import current
from hardware.files import sha256_of

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_CONTENT_TYPE = "application/offset+octet-stream"
BLOCK = 1 << 16


class Busy(Exception):
    """Another request is writing the same file right now."""


class PageFiles:
    """The dashboard's store of page files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("files", "partial", "thumbs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        return self.root / "files" / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return SHA256.fullmatch(sha) is not None and self.path(sha).is_file()

    def thumb_path(self, sha: str) -> Path:
        return self.root / "thumbs" / f"{sha}.jpg"

    def _partial(self, sha: str, length: int) -> Path:
        return self.root / "partial" / f"{sha}-{length}"

    def progress(self, sha: str) -> tuple[int, int | None]:
        """(bytes here, the whole file's size if an upload has begun)."""
        if self.has(sha):
            size = self.path(sha).stat().st_size
            return size, size
        for part in sorted((self.root / "partial").glob(f"{sha}-*")):
            length = part.name.rsplit("-", 1)[1]
            if length.isdigit():
                return part.stat().st_size, int(length)
        return 0, None

    @contextmanager
    def writing(self, sha: str) -> Iterator[None]:
        """Hold the file's lock (across processes) while a piece is written; Busy if another holds it."""
        with (self.root / "partial" / f"{sha}.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(sha) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, sha: str, length: int, offset: int, stream, count: int) -> int:
        """Write `count` bytes from `stream` at `offset` of the partial copy (hold `writing`); its new size.

        A piece at offset 0 starts afresh (dropping a partial copy of another declared length). Raises
        ValueError(current size) when `offset` is not where the copy ends.
        """
        part = self._partial(sha, length)
        if offset == 0:
            for other in (self.root / "partial").glob(f"{sha}-*"):
                other.unlink(missing_ok=True)
        current = part.stat().st_size if part.exists() else 0
        if offset != current:
            raise ValueError(current)
        with part.open("ab") as out:
            left = count
            try:
                while left > 0:
                    block = stream.read(min(BLOCK, left))
                    if not block:
                        break
                    out.write(block)
                    left -= len(block)
            finally:  # what arrived of a broken piece is kept: the next piece continues after it
                out.flush()
        # No fsync per piece: after a power cut the partial copy may be short (the gateway resends from its
        # end) or hold garbage (the hash check at the end refuses it, and the gateway sends the file again).
        return part.stat().st_size

    def finish(self, sha: str, length: int) -> str | None:
        """Hash the complete partial copy: keep it under its name (None) or drop it (the hash it really has)."""
        part = self._partial(sha, length)
        found = sha256_of(part)
        if found != sha:
            part.unlink(missing_ok=True)
            return found
        with part.open("rb+") as f:
            os.fsync(f.fileno())  # a file the gateway is told is here must survive a power cut
        target = self.path(sha)
        target.parent.mkdir(exist_ok=True)
        os.replace(part, target)
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return None

    def drop_abandoned(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Drop partial copies untouched for `older_than_s` seconds (and their lock files); their names.

        A gateway whose page queue was lost leaves its partial copy behind for ever, and page files are
        large. A copy being written right now is left alone (its lock is held), and dropping a copy a
        gateway still wants costs only a resend: the dashboard then answers offset 0 and it starts again.
        """
        cutoff = (time.time() if now is None else now) - older_than_s
        partial = self.root / "partial"
        dropped: list[str] = []
        for part in sorted(partial.iterdir()):
            sha, _, length = part.name.partition("-")
            if part.suffix == ".lock" or not (SHA256.fullmatch(sha) and length.isdigit()):
                continue
            try:
                with self.writing(sha):
                    if part.stat().st_mtime < cutoff:
                        part.unlink()
                        dropped.append(part.name)
            except Busy:
                continue
            except FileNotFoundError:  # finished or restarted by an upload meanwhile
                continue
        for lock in partial.glob("*.lock"):  # a lock with no copy left is litter
            sha = lock.name.removesuffix(".lock")
            if not any(partial.glob(f"{sha}-*")) and lock.stat().st_mtime < cutoff:
                lock.unlink(missing_ok=True)
        if dropped:
            log.warning(
                "dropped %d partial page upload(s) untouched for %.1f days: %s",
                len(dropped),
                older_than_s / 86400,
                ", ".join(dropped),
            )
        return dropped

    def verify(self) -> Iterator[tuple[str, str | None]]:
        """Every file kept, hashed again: (its name, None if intact, else the SHA-256 it has now)."""
        for path in sorted((self.root / "files").glob("*/*")):
            found = sha256_of(path)
            yield path.name, None if found == path.name else found


def page_files() -> PageFiles:
    return current_app.extensions["page_files"]


def refused(status: int, error: str, message: str, **headers: str) -> Response:
    """A refusal the gateway can act on: a stable `error` code and a message naming what was wrong."""
    counts: Counter[str] = current_app.extensions["upload_refusals"]
    counts[error] += 1
    visitor = current()
    log.warning("upload refused (%s) for %s: %s", error, visitor.user.name if visitor else "?", message)
    response = jsonify(error=error, status=status, message=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def _state(sha: str) -> Response:
    offset, length = page_files().progress(sha)
    response = jsonify(sha256=sha, offset=offset, length=length, complete=page_files().has(sha))
    response.headers["Upload-Offset"] = str(offset)
    if length is not None:
        response.headers["Upload-Length"] = str(length)
    return response


@bp.get("/<sha256>")
def status(sha256: str) -> Response:
    if not SHA256.fullmatch(sha256):
        return refused(400, "bad_sha256", f"{sha256[:80]!r} is not a SHA-256 (64 lower-case hex digits)")
    return _state(sha256)


def _header(name: str, low: int, high: int) -> int | str:
    """An integer header within low..high, or the message saying why not."""
    text = request.headers.get(name)
    if text is None:
        return f"the {name} header is missing"
    if not text.isdigit():
        return f"{name} {text[:40]!r} is not a whole number"
    value = int(text)
    if not low <= value <= high:
        return f"{name} {value} is outside {low}..{high}"
    return value


@bp.patch("/<sha256>")
def append(sha256: str) -> Response:
    if not SHA256.fullmatch(sha256):
        return refused(400, "bad_sha256", f"{sha256[:80]!r} is not a SHA-256 (64 lower-case hex digits)")
    limit = current_app.config["SITE"].pages.max_file_mb * 1024 * 1024
    length = _header("Upload-Length", 1, 1 << 62)
    if isinstance(length, str):
        return refused(400, "bad_length", length)
    if length > limit:
        return refused(413, "too_large", f"Upload-Length {length} exceeds the site's limit of {limit} bytes")
    offset = _header("Upload-Offset", 0, length - 1)
    if isinstance(offset, str):
        return refused(400, "bad_offset", offset)
    if request.mimetype != UPLOAD_CONTENT_TYPE:
        return refused(415, "bad_content_type", f"Content-Type must be {UPLOAD_CONTENT_TYPE}, not {request.mimetype!r}")
    count = request.content_length
    if count is None:
        return refused(411, "no_content_length", "Content-Length is required")
    if offset + count > length:
        return refused(400, "past_the_end", f"a piece of {count} bytes at {offset} ends past Upload-Length {length}")
    store = page_files()
    if store.has(sha256):
        return _state(sha256)
    try:
        with store.writing(sha256):
            try:
                size = store.append(sha256, length, offset, request.stream, count)
            except ValueError as exc:
                (current_size,) = exc.args
                return refused(
                    409,
                    "wrong_offset",
                    f"the dashboard has {current_size} bytes of this file; send the piece that starts there",
                    **{"Upload-Offset": str(current_size)},
                )
            if size == length:
                found = store.finish(sha256, length)
                if found is not None:
                    return refused(
                        422,
                        "hash_mismatch",
                        f"the {length} bytes received have SHA-256 {found}; dropped, send the file again",
                        **{"Upload-Offset": "0"},
                    )
                log.info("page file %s complete (%d bytes)", sha256, length)
        if size == length:  # a good moment to sweep: uploads are flowing, so any stale copy is abandoned
            _drop_abandoned(store)
    except Busy:
        return refused(423, "busy", "another upload of this file is in progress; try again shortly")
    return _state(sha256)


def _drop_abandoned(store: PageFiles) -> None:
    store.drop_abandoned(current_app.config["SITE"].pages.abandoned_upload_days * 86400)


def init_app(app) -> None:
    site = app.config["SITE"]
    app.extensions["page_files"] = files = PageFiles(site.pages_store)
    files.drop_abandoned(site.pages.abandoned_upload_days * 86400)  # what a stopped dashboard left
    app.extensions["upload_refusals"] = Counter()
