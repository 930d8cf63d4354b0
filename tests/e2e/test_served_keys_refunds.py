"""A served payflow with API keys from the environment: keys, CORS, cancel and refunds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from payflow.database_process import free_port
from tests.e2e.conftest import Served, env_for, start, stop
from tests.waiting import eventually_sync, wait_for_status_sync

# Keys, CORS and refunds over HTTP; their database behaviour runs on every backend in
# tests/integration (test_cancel_refund_races) and tests/contract.
pytestmark = [pytest.mark.e2e, pytest.mark.backends("embedded")]

DEADLINE_SECONDS = 30.0  # an upper bound for a condition, not a timing assertion
A = {"Authorization": "Bearer sk_test_a"}
B = {"Authorization": "Bearer sk_test_b"}


@pytest.fixture(scope="module")
def keyed(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    env = {
        **env_for(backend, request),
        "PAYFLOW_AUTH__API_KEYS": '["sk_test_a","sk_test_b"]',
        "PAYFLOW_RATE_LIMIT__ENABLED": "true",
        "PAYFLOW_RATE_LIMIT__REQUESTS_PER_MINUTE": "10000",
    }
    served = start(tmp_path_factory.mktemp("payflow-keys"), free_port(), env)
    yield served
    if served.process.poll() is None:
        stop(served)


def wait_for(served: Served, order_number: str, status: str) -> dict[str, Any]:
    """The order (as client A sees it) once it has `status`."""
    return wait_for_status_sync(
        served.base_url, order_number, status, headers=A, within=DEADLINE_SECONDS
    )


def test_keys_from_the_environment_guard_the_api_but_not_the_receiver(keyed: Served) -> None:
    assert httpx.get(f"{keyed.base_url}/api/orders").status_code == 401
    created = httpx.post(
        f"{keyed.base_url}/api/orders",
        headers={**A, "Idempotency-Key": "e2e-k-1"},
        content=b'{"orderNumber":"KEY-1","amount":50}',
    )
    assert created.status_code == 201
    assert "ratelimit-limit" in created.headers
    # The worker's signed webhook reaches the receiver without any key.
    assert wait_for(keyed, "KEY-1", "Paid")["status"] == "Paid"
    assert httpx.get(f"{keyed.base_url}/api/orders/KEY-1", headers=B).status_code == 404


def test_refund_and_cancel_through_the_served_process(keyed: Served) -> None:
    base = keyed.base_url
    httpx.post(
        f"{base}/api/orders",
        headers={**A, "Idempotency-Key": "e2e-k-2"},
        content=b'{"orderNumber":"KEY-2","amount":80}',
    )
    wait_for(keyed, "KEY-2", "Paid")
    part = httpx.post(
        f"{base}/api/orders/KEY-2/refunds",
        headers={**A, "Idempotency-Key": "e2e-r-1"},
        content=b'{"amount":30}',
    )
    assert part.status_code == 201
    rest = httpx.post(f"{base}/api/orders/KEY-2/refunds", headers={**A, "Idempotency-Key": "r-2"})
    assert rest.json()["amount"] == 50
    assert wait_for(keyed, "KEY-2", "Refunded")["amountRefunded"] == 80
    slow = httpx.post(
        f"{base}/api/orders",
        headers={**A, "Idempotency-Key": "e2e-k-3"},
        content=b'{"orderNumber":"KEY-3","amount":5,"processingDelayMs":600000}',
    )
    assert slow.status_code == 201
    canceled = httpx.post(
        f"{base}/api/orders/KEY-3/cancel", headers={**A, "Idempotency-Key": "e2e-c-1"}
    )
    assert canceled.json()["status"] == "Canceled"

    def both_announced() -> bool:
        types = {e["type"] for e in httpx.get(f"{base}/api/events", headers=A).json()}
        return {"order.canceled", "refund.succeeded"} <= types

    eventually_sync(both_announced, "order.canceled and refund.succeeded", within=DEADLINE_SECONDS)
    assert httpx.get(f"{base}/api/events", headers=B).json() == []


def test_the_react_dev_server_can_call_the_api(keyed: Served) -> None:
    preflight = httpx.options(
        f"{keyed.base_url}/api/orders",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
