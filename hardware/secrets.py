"""The site's secrets folder: broker passwords and RFID keys, each a small file readable by its owner only.

A secret is created with mode 0600 from the start (never readable by others, even briefly) and never
overwritten: losing an RFID key would make every tag written with it unreadable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def ensure_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)


def create_secret(path: Path, make: Callable[[], str]) -> bool:
    """Write `make()` to `path` unless the file exists; True if it was created."""
    ensure_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(make() + "\n")
    return True
