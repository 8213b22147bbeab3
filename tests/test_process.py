"""Processes the project starts and stops: stopping on signals without hanging."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = """
import sys
from hardware.process import StopSignals
stop = StopSignals().event
print("ready", flush=True)
while not stop.wait(0.001):  # the main thread waits on the very event the signal ends
    pass
print("stopped", flush=True)
"""


def test_a_burst_of_signals_stops_a_waiting_main_thread_and_never_hangs_it():
    # Setting a threading.Event inside a signal handler can deadlock the thread that waits on it;
    # `storeroom broker run` once hung this way. Many signals at once make that race likely.
    for _ in range(5):
        process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        for _ in range(30):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.0005)
        try:
            assert process.wait(10) == 0
        finally:
            process.kill()
        assert process.stdout.read().strip() == "stopped"
