"""A tethered camera (a DSLR writing each shot into a folder, e.g. with gphoto2 or the maker's software).

Each new file is a page. A file is taken only once it is whole: its size has stopped changing and the
photo reader finds its end (a half-written JPEG decodes without complaint in OpenCV). Files are moved
out once taken, so the folder is an inbox: `done/<dossier>/` keeps the originals by session, and a shot
that arrives when no session is open goes to `unassigned/` rather than into the wrong dossier.

The folder is polled rather than watched with inotify: the camera's software may write over a network
share or a FUSE mount where inotify sees nothing, and the completeness check needs polling anyway.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from vision.camera import CameraError
from vision.photo import PhotoError, read_photo

log = logging.getLogger(__name__)

SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
POLL_S = 0.25
WHOLE_AFTER_S = 0.5
"""A file whose size has not changed for this long is finished being written."""
GIVE_UP_S = 30.0
"""A file still unreadable this long after it stopped growing is refused (moved to `refused/`)."""


class FolderCamera:
    shoots_itself = True

    def __init__(self, folder: Path, sleep=time.sleep, monotonic=time.monotonic) -> None:
        self.folder = Path(folder)
        self.device = f"tethered camera ({self.folder})"
        self.dossier: str | None = None
        """Set by the session: where taken originals are filed."""
        self.refused: list[str] = []
        self._sleep, self._monotonic = sleep, monotonic
        self._sizes: dict[str, tuple[int, float]] = {}

    def open(self) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"{self.folder}: the camera's folder does not exist")
        if not os.access(self.folder, os.R_OK | os.W_OK | os.X_OK):
            raise CameraError(f"{self.folder}: the gateway cannot read and move files here")

    def lock(self) -> dict[str, object]:
        return {"exposure": "set on the camera", "white_balance": "set on the camera", "focus": "set on the camera"}

    def unlock(self) -> None:
        pass

    def preview(self) -> np.ndarray:
        raise CameraError("a tethered camera has no preview: it shoots by itself")

    def _move(self, path: Path, folder: str) -> Path:
        target = self.folder / folder
        target.mkdir(parents=True, exist_ok=True)
        dest = target / path.name
        n = 1
        while dest.exists():  # never overwrite an original
            dest = target / f"{path.stem}.{n}{path.suffix}"
            n += 1
        os.replace(path, dest)
        return dest

    def _whole(self, path: Path, now: float) -> bool:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        seen = self._sizes.get(path.name)
        if seen is None or seen[0] != size:
            self._sizes[path.name] = (size, now)
            return False
        return size > 0 and now - seen[1] >= WHOLE_AFTER_S

    def pending(self) -> list[Path]:
        """Photos in the inbox, oldest first."""
        files = [p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        """The next whole photo in the inbox within `timeout_s`, filed under the session's dossier."""
        end = self._monotonic() + timeout_s
        while True:
            now = self._monotonic()
            for path in self.pending():
                if not self._whole(path, now):
                    continue
                if self.dossier is None:
                    log.warning("%s arrived outside a session: kept in unassigned/", path.name)
                    self._move(path, "unassigned")
                    continue
                try:
                    image = read_photo(path)
                except PhotoError as exc:
                    if now - self._sizes[path.name][1] < GIVE_UP_S:
                        continue  # the camera may still be finishing it
                    self.refused.append(f"{path.name}: {exc}")
                    log.error("refused %s", exc)
                    self._move(path, "refused")
                    self._sizes.pop(path.name, None)
                    continue
                self._move(path, f"done/{self.dossier}")
                self._sizes.pop(path.name, None)
                return image
            if now >= end:
                return None
            self._sleep(min(POLL_S, max(0.0, end - now)))

    def close(self) -> None:
        self._sizes.clear()
