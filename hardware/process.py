"""Child processes that do not outlive their parent.

The demo and the tests start Mosquitto and gateway processes. If the parent is killed (SIGKILL, a
closed terminal, a CI timeout) `atexit` and `finally` never run; on Linux the kernel can still send
the child a signal when its parent dies (prctl PR_SET_PDEATHSIG), which is what this arranges.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for subprocess.Popen: SIGTERM this child when its parent dies. No-op off Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class StopSignals:
    """SIGTERM and SIGINT as a `threading.Event` that any thread, the main one included, may wait on.

    A signal handler must not set a threading.Event itself: it runs in the main thread between two
    bytecodes, possibly while that thread holds the Event's own lock inside `wait()`, and then waits for
    it forever (seen: `storeroom broker run` hung on SIGTERM). The handler here only records the signal;
    a small watcher thread sets the event.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.event = threading.Event()
        self._requested = False
        for signum in signals:
            signal.signal(signum, self._note)
        threading.Thread(target=self._watch, name="stop-signals", daemon=True).start()

    def _note(self, _signum: int, _frame: object) -> None:
        self._requested = True  # a plain assignment: no lock is taken in the handler

    def _watch(self) -> None:
        while not self._requested:
            time.sleep(0.1)
        self.event.set()
