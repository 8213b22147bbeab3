"""When to shoot without a pedal: once the page lies still, whole, with no hand over it, and is new.

Fed the camera's previews in order. Motion is the mean absolute difference of two consecutive small grey
frames; a page counts as still after `still_s` without motion. After a shot the trigger waits for motion
(the keeper turning the page) before it can fire again, so a page lying on is never shot twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision import quality
from vision.page import find_page

MOTION_LEVEL = 2.0
"""Mean grey-level change between previews above which something moved (sensor noise stays below 1)."""
PREVIEW_DPI = 25.0
"""About what a 320-pixel preview holds on an A4 page: sizes the hand check's opening."""


@dataclass
class Verdict:
    shoot: bool
    waiting_for: str  # "", "motion", "stillness", "page", "hand"


class AutoTrigger:
    def __init__(self, still_s: float, limits: quality.Limits | None = None) -> None:
        self.still_s = still_s
        self.limits = limits or quality.Limits()
        self._last: np.ndarray | None = None
        self._still_since: float | None = None
        self._armed = True

    def rearm(self) -> None:
        """Shoot the page lying now again once it is still (a retake without moving the page)."""
        self._armed = True

    def feed(self, frame: np.ndarray, t: float) -> Verdict:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        gray = cv2.GaussianBlur(gray, (3, 3), 0).astype(np.int16)
        moved = self._last is None or self._last.shape != gray.shape or np.abs(gray - self._last).mean() > MOTION_LEVEL
        self._last = gray
        if moved:
            self._still_since = t
            self._armed = True
            return Verdict(False, "stillness")
        if not self._armed:
            return Verdict(False, "motion")
        if self._still_since is None or t - self._still_since < self.still_s:
            return Verdict(False, "stillness")
        found = find_page(frame)
        if found.quad is None or found.border_contact > self.limits.cut_off:
            return Verdict(False, "page")
        if not quality.hand(frame, PREVIEW_DPI, self.limits.hand)["ok"]:
            return Verdict(False, "hand")
        self._armed = False
        return Verdict(True, "")
