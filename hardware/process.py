"""Child processes that do not outlive their parent.

The demo and the tests start Mosquitto and gateway processes. If the parent is killed (SIGKILL, a
closed terminal, a CI timeout) `atexit` and `finally` never run; on Linux the kernel can still send
the child a signal when its parent dies (prctl PR_SET_PDEATHSIG), which is what this arranges.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for subprocess.Popen: SIGTERM this child when its parent dies. No-op off Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
