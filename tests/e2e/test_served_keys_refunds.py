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


def test_two_keys_may_use_one_order_number_and_each_sees_and_is_paid_only_its_own(
    keyed: Served,
) -> None:
    created = {}
    for name, key in (("a", A), ("b", B)):
        response = httpx.post(
            f"{keyed.base_url}/api/orders",
            headers={**key, "Idempotency-Key": f"shared-{name}"},
            json={"orderNumber": "SHARED-1", "amount": 10 if name == "a" else 20},
        )
        assert response.status_code == 201, response.text
        created[name] = response.json()["id"]
    assert created["a"] != created["b"]
    for name, key in (("a", A), ("b", B)):
        paid = wait_for_status_sync(
            keyed.base_url, "SHARED-1", "Paid", headers=key, within=DEADLINE_SECONDS
        )
        assert paid["id"] == created[name]
        events = httpx.get(
            f"{keyed.base_url}/api/events", params={"orderNumber": "SHARED-1"}, headers=key
        ).json()
        assert {event["data"]["orderId"] for event in events} == {created[name]}

        def applied(key: dict[str, str] = key) -> list[dict[str, Any]] | None:
            trail: list[dict[str, Any]] = httpx.get(
                f"{keyed.base_url}/api/orders/SHARED-1/events", headers=key
            ).json()
            return trail if any(r["outcome"] == "applied" for r in trail) else None

        trail = eventually_sync(applied, "the applied receipt", within=DEADLINE_SECONDS)
        assert [r["outcome"] for r in trail].count("applied") == 1
    only_a = httpx.post(
        f"{keyed.base_url}/api/orders",
        headers={**A, "Idempotency-Key": "only-a"},
        json={"orderNumber": "ONLY-A", "amount": 3},
    )
    assert only_a.status_code == 201
    assert httpx.get(f"{keyed.base_url}/api/orders/ONLY-A", headers=B).status_code == 404
