"""Settings changed at run time by command (a room's target band), kept across restarts.

A small JSON file beside the outbox, replaced atomically (write, fsync, rename) so a power cut leaves
either the old settings or the new ones, never half of each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._values: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._values = {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # A damaged file must not stop the gateway: fall back to the config's values, say so, keep a copy.
            path.replace(path.with_suffix(".damaged"))
            self._values = {}
            self.damaged = f"{path}: unreadable ({exc}); kept as {path.with_suffix('.damaged').name}"
            return
        self.damaged = ""

    def get(self, key: str) -> Any:
        return self._values.get(key)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(self._values, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)
