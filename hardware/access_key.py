"""The site's access key: signs the permission document the dashboard sends to the gateways' doors.

32 random bytes, hex, in `<secrets>/access.key` (mode 0600), made by the dashboard on first use and copied
to each gateway with the broker password (docs/DEPLOY.md). A gateway never makes one: a key of its own would
refuse every document the dashboard signs.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from hardware.config import SiteConfig
from hardware.secrets import create_secret


class AccessKeyError(RuntimeError):
    """The key is missing or unusable; the message names the file."""


def key_path(site: SiteConfig) -> Path:
    return site.storage.secrets / "access.key"


def access_key(site: SiteConfig, *, create: bool = False) -> bytes:
    path = key_path(site)
    if create:
        create_secret(path, lambda: secrets.token_hex(32))
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise AccessKeyError(f"{path}: no access key; copy the dashboard's to this gateway") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AccessKeyError(f"{path}: not a usable access key ({exc})") from None
    if len(key) < 16:
        raise AccessKeyError(f"{path}: an access key needs at least 16 bytes, this one has {len(key)}")
    return key
