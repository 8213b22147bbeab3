"""A loop on a daemon thread of its own, started and stopped from outside (the world, readers, simulated people)."""

from __future__ import annotations

import threading


class Background:
    """Subclasses write `_run()`, which returns once `self._stop` is set; `start` and `stop` are idempotent."""

    thread_name = "background"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError
