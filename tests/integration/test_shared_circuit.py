"""Two payflow processes on one real database share each endpoint's circuit breaker.

Each process has its own store client, endpoint directory, breaker and owner id, as two
`payflow serve` would; only the database and a FakeClock are shared. When a cool-down
ends both run their recovery round at once: the compare-and-set on the endpoint's health
lets exactly one send the probe, and after the endpoint recovers the backlog arrives
once, in the order of its events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from payflow.config import Settings
from payflow.domain.deliveries import DeliveryState
from payflow.domain.endpoint_health import CircuitState, after_failure
from payflow.domain.endpoints import RegisteredEndpoint, SecretVersion, delivery_id
from payflow.lifespan import Runtime, build_processor, default_endpoint
from payflow.metrics import Metrics
from payflow.store.base import Delivery
from payflow.store.mongo import MongoStore
from payflow.worker.channel import WorkQueue
from payflow.worker.directory import EndpointDirectory
from payflow.worker.processor import Processor
from payflow.worker.recovery import recovery_round
from tests.support import FakeClock, make_settings

pytestmark = pytest.mark.anyio
SHOP = "we_shop000000000000000000"
SHOP_URL = "http://shop.test/webhooks"


class Shop:
    """The merchant's endpoint: answers `status`, keeps the event ids it was sent."""

    def __init__(self) -> None:
        self.status = 503
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request.headers["x-payflow-event-id"])
        return httpx.Response(self.status)


@asynccontextmanager
async def process(
    db: Any, settings: Settings, clock: FakeClock, shop: Shop
) -> AsyncIterator[Processor]:
    """What one payflow process holds: its own store, directory, queue and breaker."""
    async with AsyncExitStack() as stack:
        store = MongoStore(db)
        queue = WorkQueue(100, clock)
        stack.push_async_callback(queue.aclose)
        directory = EndpointDirectory(store.endpoints, default_endpoint(settings), clock)
        runtime = Runtime(settings, store, clock, queue, Metrics(), directory)
        http = await stack.enter_async_context(httpx.MockTransport(shop))
        await directory.refresh()
        yield build_processor(runtime, http)


async def test_only_one_process_probes_and_the_backlog_arrives_once_in_order(
    mongo_db: Any,
) -> None:
    clock, shop = FakeClock(), Shop()
    settings = make_settings()
    store = MongoStore(mongo_db)
    await store.ensure_indexes()
    await store.endpoints.insert(
        RegisteredEndpoint(
            SHOP, SHOP_URL, "payflow", ("*",), None, (SecretVersion("s3cret"),), clock(), clock()
        )
    )
    policy = settings.webhooks.breaker_policy
    for _ in range(policy.failures):  # what refused attempts did: the circuit is open
        await store.endpoints.change_health(SHOP, lambda h: after_failure(h, clock(), policy))
    events = [f"evt_{n:024x}" for n in range(5)]
    for n, event in enumerate(events):  # deliveries that came while it was open: parked
        await store.deliveries.insert_waiting(
            Delivery(
                delivery_id(event, SHOP),
                event,
                "payment.succeeded",
                f"ORD-{n}",
                SHOP,
                SHOP_URL,
                b"{}",
                DeliveryState.PENDING,
                0,
                None,
                clock() + timedelta(milliseconds=n),
            )
        )

    async with (
        process(mongo_db, settings, clock, shop) as a,
        process(mongo_db, settings, clock, shop) as b,
    ):
        assert a.owner != b.owner
        clock.advance(seconds=31)  # the cool-down is over for both
        async with anyio.create_task_group() as rounds:
            rounds.start_soon(recovery_round, a)
            rounds.start_soon(recovery_round, b)
        assert shop.received == [events[0]]  # one probe between them, refused
        health = await store.endpoints.health(SHOP)
        assert health is not None
        assert health.circuit is CircuitState.OPEN
        assert health.cooldown_seconds == 60  # doubled

        async with anyio.create_task_group() as rounds:  # still cooling down: nothing
            rounds.start_soon(recovery_round, a)
            rounds.start_soon(recovery_round, b)
        assert len(shop.received) == 1

        shop.status = 200
        clock.advance(seconds=61)
        async with anyio.create_task_group() as rounds:
            rounds.start_soon(recovery_round, a)
            rounds.start_soon(recovery_round, b)
        assert shop.received == [events[0], *events]  # probe, then the rest, in event order
        health = await store.endpoints.health(SHOP)
        assert health is not None
        assert (health.circuit, health.draining, health.failures) == (CircuitState.CLOSED, False, 0)
        states = {d.state for e in events for d in await store.deliveries.for_event(e)}
        assert states == {DeliveryState.SUCCEEDED}
