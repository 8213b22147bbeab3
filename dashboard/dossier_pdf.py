"""A dossier's PDF, made by the dashboard from the page access copies it keeps, in page order.

Every page's access JPEG reaches the dashboard on its own (dashboard/page_files.py), so the dashboard can
always put the whole dossier together, however many copy-stand sessions its pages came from and whatever
the gateways still keep on their disks (they remove delivered files in time: gateway/uploads.py). The
JPEGs go into the PDF as they are (dashboard/jpeg_pdf.py embeds them, no re-encoding), so a page in the PDF is
the very file whose SHA-256 the gateway's manifest records.

The PDF is kept, not made for every request: a 300-page dossier is about 300 MB, which takes seconds to
write, and a browser's PDF viewer asks for it again in ranges as the reader scrolls. It is kept under
`<pages.store_dir>/pdfs/<dossier code>/<key>.pdf`, where the key is the SHA-256 of the page numbers and
their access copies' hashes: a retake or a continued session gives a new key and so a new PDF (the old one
is removed then), while the same pages always give the same file. It is written to a temporary name and
renamed, written one page at a time (one page's JPEG in memory, whatever the dossier's length), and served
from the file. A kept PDF nobody has asked for in UNUSED_DAYS is removed when another PDF is made: it can
always be made again.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard import jpeg_pdf

log = logging.getLogger(__name__)

UNUSED_DAYS = 30.0
"""A kept PDF not served for this long is removed (the next request makes it again from the pages)."""
LOCK = ".lock"
"""The file in `<store>/pdfs/` that one request holds while it makes a PDF. One for all dossiers, not one
each: making one reads and writes the dossier's whole size (600 MB for 300 pages of 2 MB), and two at once
would share the disk between them and the archivists' other requests."""


@dataclass(frozen=True)
class Contents:
    """What a dossier's PDF holds: its pages in order, each by its access copy's SHA-256."""

    pages: tuple[int, ...]
    access: tuple[str, ...]
    missing: tuple[int, ...]
    """Pages whose access copy is not at the dashboard yet (the gateway is still uploading it)."""

    @property
    def key(self) -> str:
        """The SHA-256 naming this set of pages: the same pages give the same key, any change a new one."""
        lines = "".join(f"{page}:{sha}\n" for page, sha in zip(self.pages, self.access, strict=True))
        return hashlib.sha256(lines.encode("ascii")).hexdigest()

    @property
    def complete(self) -> bool:
        return bool(self.pages) and not self.missing


def contents(listed: list[dict[str, Any]]) -> Contents:
    """The PDF's contents from `dashboard.pages.dossier_pages` (pages in order, files marked `uploaded`)."""
    ordered = sorted(listed, key=lambda p: p["page"])
    return Contents(
        pages=tuple(p["page"] for p in ordered),
        access=tuple(p["files"]["access"]["sha256"] for p in ordered),
        missing=tuple(p["page"] for p in ordered if not p["files"]["access"]["uploaded"]),
    )


def kept_pdf(root: Path, code: str, made_of: Contents, file_of: Callable[[str], Path]) -> Path:
    """The dossier's PDF of `made_of` under `root` (the page store), made now if it is not kept yet.

    `code` must be a checked dossier code (it names a folder); `made_of` complete; `file_of(sha256)` is
    where the page store keeps a file. One request (of any process) makes a PDF at a time (see LOCK); another
    asking meanwhile waits for it, and serves the same file when it asked for the same pages.
    """
    if not made_of.complete:
        raise ValueError(f"{code}: pages {list(made_of.missing)} are not here; no PDF can be made")
    folder = root / "pdfs" / code
    path = folder / f"{made_of.key}.pdf"
    if path.is_file():
        os.utime(path)  # served now: not unused
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():  # not made by the request this one waited for
            _make(path, code, made_of, file_of)
    return path


def _make(path: Path, code: str, made_of: Contents, file_of: Callable[[str], Path]) -> None:
    """Write the PDF to a temporary file beside `path`, rename it, and tidy up the dossier's older ones."""
    folder = path.parent
    started = time.monotonic()
    fd, part = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            pages = (file_of(sha) for sha in made_of.access)
            jpeg_pdf.write(out, pages, len(made_of.access), title=code, producer="storeroom dashboard")
        os.replace(part, path)
    finally:
        Path(part).unlink(missing_ok=True)
    log.info(
        "made the PDF of %s: %d page(s), %d bytes in %.1f s",
        code,
        len(made_of.pages),
        path.stat().st_size,
        time.monotonic() - started,
    )
    _drop_other_versions(folder, path)
    drop_unused(folder.parent.parent, UNUSED_DAYS * 86400)


def _drop_other_versions(folder: Path, current: Path) -> None:
    """The dossier's PDFs of earlier pages (before a retake or a continued session): never served again."""
    for old in folder.glob("*.pdf"):
        if old != current:
            old.unlink(missing_ok=True)


def drop_unused(root: Path, older_than_s: float, now: float | None = None) -> list[Path]:
    """Remove kept PDFs not served for `older_than_s` seconds, and stale temporary files; their paths."""
    cutoff = (time.time() if now is None else now) - older_than_s
    dropped: list[Path] = []
    for path in sorted((root / "pdfs").glob("*/*")):
        if path.name == LOCK:  # never removed: a request may hold it
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                dropped.append(path)
        except FileNotFoundError:  # removed by another request meanwhile
            continue
    return dropped
