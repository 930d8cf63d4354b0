"""The idempotency state machine (see `idempotency_model.py`) on mongomock and on the
real embedded MongoDB-wire server; fifty truly overlapping requests on each real server
(the embedded one and the MongoDB replica set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import seed
from hypothesis.stateful import run_state_machine_as_test
from mongomock_motor import AsyncMongoMockClient

from tests.adversarial.idempotency_model import machine_on
from tests.adversarial.scale import fuzz_settings, rounds

MOCK_EXAMPLES, MOCK_STEPS = 40, 30
REAL_EXAMPLES, REAL_STEPS = 10, 25


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as running:
        yield running


def test_idempotency_holds_on_mongomock(portal: BlockingPortal) -> None:
    async def new_database() -> Any:
        return AsyncMongoMockClient(tz_aware=True)["payflow"]

    machine = machine_on(portal, new_database)
    for round_seed in rounds("mongomock"):
        run_state_machine_as_test(
            seed(round_seed)(machine),
            settings=fuzz_settings(MOCK_EXAMPLES, stateful_step_count=MOCK_STEPS),
        )


@pytest.mark.integration
def test_idempotency_holds_on_the_real_server(
    portal: BlockingPortal,
    embedded_uri: str,
) -> None:
    from motor.motor_asyncio import AsyncIOMotorClient

    async def new_database() -> Any:
        # A client per example: motor binds to the event loop that first uses it.
        client: Any = AsyncIOMotorClient(embedded_uri, tz_aware=True)
        return client[f"model_{uuid.uuid4().hex[:12]}"]

    async def drop_database(database: Any) -> None:
        await database.client.drop_database(database.name)
        database.client.close()

    machine = machine_on(portal, new_database, drop_database, suite="idempotency_model_real")
    for round_seed in rounds("real"):
        run_state_machine_as_test(
            seed(round_seed)(machine),
            settings=fuzz_settings(REAL_EXAMPLES, stateful_step_count=REAL_STEPS),
        )


@pytest.mark.integration
def test_a_burst_of_one_new_key_executes_once_on_the_real_server(
    portal: BlockingPortal,
    embedded_uri: str,
) -> None:
    """Regression: the embedded server let several concurrent claim upserts each "win"."""
    from motor.motor_asyncio import AsyncIOMotorClient

    from tests.adversarial.harness import running_app
    from tests.support import order_body

    async def new_database() -> Any:
        client: Any = AsyncIOMotorClient(embedded_uri, tz_aware=True)
        return client[f"burst_{uuid.uuid4().hex[:12]}"]

    database = portal.call(new_database)
    with running_app(database, portal=portal) as client:
        taken = client.post(
            "/api/orders", headers={"Idempotency-Key": "owner"}, content=order_body()
        )
        assert taken.status_code == 201
        for trial in range(20):
            request = {
                "method": "POST",
                "url": "/api/orders",
                "headers": {"Idempotency-Key": f"burst-{trial}"},
                "content": order_body(),
            }
            responses = client.concurrently([request] * 8)
            executed = [r for r in responses if "idempotent-replayed" not in r.headers]
            executed = [r for r in executed if r.json()["type"].endswith("/order-exists")]
            assert len(executed) == 1, [r.text for r in responses]
        client.call(database.client.drop_database, database.name)
    database.client.close()


BURST = 50


def _burst_database(portal: BlockingPortal, uri: str) -> Any:
    from motor.motor_asyncio import AsyncIOMotorClient

    async def new_database() -> Any:
        client: Any = AsyncIOMotorClient(uri, tz_aware=True)
        return client[f"burst50_{uuid.uuid4().hex[:12]}"]

    return portal.call(new_database)


def test_fifty_overlapping_requests_with_one_key_create_one_order_on_the_real_server(
    portal: BlockingPortal,
    database_uri: str,
) -> None:
    from tests.adversarial.harness import running_app
    from tests.support import order_body

    database = _burst_database(portal, database_uri)
    with running_app(database, portal=portal) as client:
        request = {
            "method": "POST",
            "url": "/api/orders",
            "headers": {"Idempotency-Key": "one-key"},
            "content": order_body(),
        }
        responses = client.concurrently([request] * BURST)
        assert client.call(database.orders.count_documents, {}) == 1
        created = [r for r in responses if r.status_code == 201]
        in_flight = [r for r in responses if r.status_code == 409]
        assert len(created) + len(in_flight) == BURST, [r.status_code for r in responses]
        assert len({r.content for r in created}) == 1  # the one stored response
        assert sum("idempotent-replayed" not in r.headers for r in created) == 1
        for response in in_flight:
            assert response.json()["type"].endswith("/idempotency-in-progress")
            assert "retry-after" in response.headers
        client.call(database.client.drop_database, database.name)
    database.client.close()


def test_fifty_overlapping_keys_for_one_order_number_create_one_order_on_the_real_server(
    portal: BlockingPortal,
    database_uri: str,
) -> None:
    from tests.adversarial.harness import running_app
    from tests.support import order_body

    database = _burst_database(portal, database_uri)
    with running_app(database, portal=portal) as client:
        requests = [
            {
                "method": "POST",
                "url": "/api/orders",
                "headers": {"Idempotency-Key": f"key-{n}"},
                "content": order_body(),
            }
            for n in range(BURST)
        ]
        responses = client.concurrently(requests)
        assert client.call(database.orders.count_documents, {}) == 1
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * (BURST - 1)
        for response in responses:
            if response.status_code == 409:
                assert response.json()["type"].endswith("/order-exists")
        client.call(database.client.drop_database, database.name)
    database.client.close()
