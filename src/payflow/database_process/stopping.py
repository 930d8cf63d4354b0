"""Stopping the server so that the stop is never lost.

The server handles SIGTERM in Python while its main thread blocks in
``Event.wait()`` with no timeout. When the kernel delivers the signal to one of its
other threads (WiredTiger's or a connection's), the handler is only flagged and
never runs — the signal looks ignored (measured: about 1 in 8 when a connection
arrives at the same moment). A second SIGTERM gets through. Once the handler runs,
the accept thread stays blocked in ``accept()`` for 2 s unless a connection wakes
it. So: SIGTERM, then after 0.2 s connect to the port now and then (wakes the
accept loop: stops in ~0.3 s instead of ~2.1 s), SIGTERM again if the port still
accepts after 1 s, SIGKILL after ``grace``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time

from payflow.database_process.server import POLL_SECONDS

_POKE_AFTER_SECONDS = 0.2  # poking at once races the signal (measured): let it land first
_RESIGNAL_AFTER_SECONDS = 1.0


def terminate(process: subprocess.Popen[bytes], host: str, port: int, grace: float) -> None:
    if process.poll() is not None:
        return
    try:
        started = signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        answered = 0
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(POLL_SECONDS)
                return
            now = time.monotonic()
            if now - started >= grace:
                break
            if now - signalled < _POKE_AFTER_SECONDS:
                continue
            # A connection wakes the accept loop, which then sees the stop flag and
            # lets the listener close. A port that still accepts after that means the
            # SIGTERM was lost (see above): send another.
            if accepts(host, port, 0.1):
                answered += 1
                if answered >= 2 and now - signalled >= _RESIGNAL_AFTER_SECONDS:
                    process.send_signal(signal.SIGTERM)
                    signalled, answered = now, 0
            else:
                answered = 0
    except BaseException:
        kill(process)
        raise
    kill(process)


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def accepts(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
