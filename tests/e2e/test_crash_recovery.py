"""payflow killed with SIGKILL: its embedded database goes with it, and a restart on the
same data directory recovers the killed server's files and finishes the work."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, start, stop

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's"),
]

GONE_DEADLINE_SECONDS = 10.0  # an upper bound for a condition, not a timing assertion
PAID_DEADLINE_SECONDS = 30.0


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" not in status.read_text()


def test_a_killed_payflow_takes_its_database_along_and_restarts_on_the_same_data(
    tmp_path: Path,
) -> None:
    port = free_port()
    first = start(tmp_path, port, {})
    body = b'{"orderNumber":"CRASH-1","amount":3.5}'
    created = httpx.post(
        f"{first.base_url}/api/orders", headers={"Idempotency-Key": "crash-1"}, content=body
    )
    assert created.status_code == 201
    (database,) = children(first.process.pid)
    first.process.kill()
    first.process.wait()

    deadline = time.monotonic() + GONE_DEADLINE_SECONDS
    while alive(database) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(database), "the embedded server outlived its payflow"

    second = start(tmp_path, port, {})  # the killed server's files: lock, journal
    try:
        replay = httpx.post(
            f"{second.base_url}/api/orders", headers={"Idempotency-Key": "crash-1"}, content=body
        )
        assert replay.content == created.content
        deadline = time.monotonic() + PAID_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            # The receiver moves the order first and writes its receipt right after.
            trail = httpx.get(f"{second.base_url}/api/orders/CRASH-1/events").json()
            if any(e["outcome"] == "applied" for e in trail):
                break
            time.sleep(0.05)
        assert [e["outcome"] for e in trail].count("applied") == 1
        assert httpx.get(f"{second.base_url}/api/orders/CRASH-1").json()["status"] == "Paid"
    finally:
        stop(second)
