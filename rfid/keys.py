"""The site's RFID keys: 32 random bytes each, in `<secrets>/rfid-<id>.key`, never in code or config.

The config names the key new tags are signed with (`[rfid] key_id`); every key still in the folder is
accepted when reading, so tags signed before a rotation stay valid until they are rewritten.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from hardware.config import SiteConfig
from hardware.secrets import create_secret

KEY_FILE = re.compile(r"^rfid-(\d{1,3})\.key$")


class RfidKeyError(RuntimeError):
    """A key file that is missing or cannot be used; the message names the file."""


def key_path(site: SiteConfig, key_id: int) -> Path:
    return site.storage.secrets / f"rfid-{key_id}.key"


def ensure_key(site: SiteConfig) -> Path:
    """Create the current signing key if it does not exist yet; an existing key is never replaced."""
    path = key_path(site, site.rfid.key_id)
    create_secret(path, lambda: secrets.token_hex(32))
    return path


def read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RfidKeyError(f"{path}: not a usable RFID key ({exc})") from None
    if len(key) < 16:
        raise RfidKeyError(f"{path}: an RFID key needs at least 16 bytes, this one has {len(key)}")
    return key


def site_keys(site: SiteConfig) -> dict[int, bytes]:
    """Every RFID key of the site by id (reading accepts them all)."""
    folder = site.storage.secrets
    if not folder.is_dir():
        return {}
    keys = {}
    for path in sorted(folder.iterdir()):
        found = KEY_FILE.match(path.name)
        if found and 0 < int(found.group(1)) < 256:
            keys[int(found.group(1))] = read_key(path)
    return keys


def signing_key(site: SiteConfig) -> tuple[int, bytes]:
    """(id, key) new tags are signed with, created on first use."""
    return site.rfid.key_id, read_key(ensure_key(site))
