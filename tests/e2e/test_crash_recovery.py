"""payflow killed with SIGKILL: its embedded database goes with it, and a restart on the
same data (the killed server's files, or the same database on the replica set) finishes
the work."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port
from tests.e2e.conftest import alive, children, start, stop
from tests.waiting import eventually_sync

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's"),
]

GONE_DEADLINE_SECONDS = 10.0  # an upper bound for a condition, not a timing assertion
PAID_DEADLINE_SECONDS = 30.0


def test_a_killed_payflow_takes_its_database_along_and_restarts_on_the_same_data(
    tmp_path: Path, backend: str, database_env: dict[str, str]
) -> None:
    port = free_port()
    first = start(tmp_path, port, database_env)
    body = b'{"orderNumber":"CRASH-1","amount":3.5}'
    created = httpx.post(
        f"{first.base_url}/api/orders", headers={"Idempotency-Key": "crash-1"}, content=body
    )
    assert created.status_code == 201
    own_servers = children(first.process.pid)  # the embedded server it started, if any
    assert len(own_servers) == (1 if backend == "embedded" else 0)
    first.process.kill()
    first.process.wait()

    eventually_sync(
        lambda: not any(alive(pid) for pid in own_servers),
        "the embedded server to go with its payflow",
        within=GONE_DEADLINE_SECONDS,
    )

    second = start(tmp_path, port, database_env)  # embedded: the killed server's lock, journal
    try:
        replay = httpx.post(
            f"{second.base_url}/api/orders", headers={"Idempotency-Key": "crash-1"}, content=body
        )
        assert replay.content == created.content

        def applied_trail() -> list[dict[str, str]] | None:
            # The receiver moves the order first and writes its receipt right after.
            trail: list[dict[str, str]] = httpx.get(
                f"{second.base_url}/api/orders/CRASH-1/events"
            ).json()
            return trail if any(e["outcome"] == "applied" for e in trail) else None

        trail = eventually_sync(applied_trail, "the applied receipt", within=PAID_DEADLINE_SECONDS)
        assert [e["outcome"] for e in trail].count("applied") == 1
        assert httpx.get(f"{second.base_url}/api/orders/CRASH-1").json()["status"] == "Paid"
    finally:
        stop(second)
