"""SIGTERM with webhooks in flight: the worker stops while payflow still answers its own
receiver, so no delivery fails for want of a listener; what was not started is handed
back and finished by the next start."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port
from tests.e2e.conftest import Served, start, stop
from tests.waiting import eventually_sync

pytestmark = pytest.mark.e2e

ORDERS = 40
DEADLINE_SECONDS = 60.0  # an upper bound for a condition, not a timing assertion


def create(served: Served, n: int) -> int:
    return httpx.post(
        f"{served.base_url}/api/orders",
        headers={"Idempotency-Key": f"drain-{n}"},
        content=f'{{"orderNumber":"DRAIN-{n}","amount":{n + 1}}}'.encode(),
        timeout=30,
    ).status_code


def statuses(served: Served) -> list[str]:
    orders = httpx.get(f"{served.base_url}/api/orders", params={"limit": 500}).json()
    return [order["status"] for order in orders]


def test_sigterm_stops_the_worker_before_the_listener_so_no_delivery_fails(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    port = free_port()
    first = start(tmp_path, port, {**database_env, "PAYFLOW_PROCESSING__DELAY_SECONDS": "0.5"})
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda n: create(first, n), range(ORDERS))) == [201] * ORDERS
    eventually_sync(
        lambda: "Paid" in statuses(first), "a first order paid", within=DEADLINE_SECONDS, every=0.02
    )
    stop(first)  # SIGTERM while the worker is busy with the rest
    events = [json.loads(line) for line in first.output().splitlines() if line.startswith("{")]
    assert [e for e in events if e["event"] == "webhook_failed"] == []
    assert any(e["event"] == "worker_stopped" for e in events)

    second = start(tmp_path, port, database_env)
    try:
        eventually_sync(
            lambda: set(statuses(second)) == {"Paid"},
            "every order paid after the restart",
            within=DEADLINE_SECONDS,
        )
        assert statuses(second) == ["Paid"] * ORDERS
    finally:
        stop(second)
