"""Is the system clock set? A Pi before the Pi 5 has no real-time clock: until NTP has synchronised it,
timestamps are wrong, and every message says so with `synced: false`.

The kernel knows: adjtimex(2) returns TIME_ERROR while the clock is unsynchronised. Reading it needs no
privileges and no daemon-specific API (systemd-timesyncd, chrony and ntpd all set it).
"""

from __future__ import annotations

import ctypes
import ctypes.util

TIME_ERROR = 5


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux and smaller on 32-bit; only `modes` (0 = read only)
    # must be set, so an oversized zeroed buffer is safe on both.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


def clock_synced() -> bool:
    """True when the kernel reports a synchronised clock; True as well where it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        return True
    return state != TIME_ERROR and state != -1
