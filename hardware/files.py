"""File hashes every layer shares: the SHA-256 that names a page's file in its dossier's manifest (vision),
in the gateway's upload queue and in the dashboard's store of page files. One function, so the three can
never disagree on what a file's hash is. It lives here, at the bottom, because vision, the gateway and the
dashboard may all import `hardware` and none of them may import each other for this.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    """The file's SHA-256 as 64 lower-case hex digits, read in blocks (a 12 MP page's master is 10-30 MB)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
