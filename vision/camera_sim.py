"""The simulated copy stand's camera: renders what lies on the `StandScene` (vision/standsim.py).

Rendering is the simulation's cost, not the camera's: a still at 12 MP takes seconds to draw. Frames of
an unchanged scene are the same frame, so they are drawn once and kept (a still scene gives identical
previews, which is what the auto trigger looks for).
"""

from __future__ import annotations

import threading

import numpy as np

from vision.camera import PREVIEW_WIDTH
from vision.standsim import StandScene, simulate


def render_view(view: tuple[int, int | None, tuple[str, ...]], size: tuple[int, int], stand: str) -> np.ndarray:
    """The photo of a `StandScene.view()` at `size`: what a correctly exposed, focused camera takes."""
    placement, page_seed, faults = view
    # The placement seeds where the page lies; the same page laid again lands elsewhere.
    return simulate(seed=placement, size=size, faults=faults, stand=stand, page_seed=page_seed).image


class SimulatedCamera:
    shoots_itself = False

    def __init__(self, scene: StandScene, size: tuple[int, int]) -> None:
        self.scene = scene
        self.size = size
        self.device = f"simulated stand camera {size[0]}x{size[1]}"
        self.locked: dict[str, object] = {}
        self._previews: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()
        self.stills = 0

    def open(self) -> None:
        pass

    def lock(self) -> dict[str, object]:
        self.locked = {"exposure": "locked", "white_balance": "locked", "focus": "locked"}
        return dict(self.locked)

    def unlock(self) -> None:
        self.locked = {}

    def _render(self, size: tuple[int, int]) -> np.ndarray:
        return render_view(self.scene.view(), size, self.scene.stand)

    def preview(self) -> np.ndarray:
        key = self.scene.view()
        with self._lock:
            frame = self._previews.get(key)
            if frame is None:
                w, h = self.size
                frame = self._render((PREVIEW_WIDTH, round(h * PREVIEW_WIDTH / w)))
                self._previews = {key: frame}
            return frame

    def still(self, timeout_s: float = 10.0) -> np.ndarray | None:
        self.stills += 1
        return self._render(self.size)

    def close(self) -> None:
        self._previews = {}
