"""Leases on the real server: a dead holder's job is taken over once its lease expires.

A worker that dies leaves its lease behind; nobody touches the job until it expires
(a poll finds nothing), then the next worker takes it over, finishes it, and counts the
takeover. The dead holder, should it wake up, can no longer write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from payflow.config import Settings
from payflow.domain.endpoints import Endpoint
from payflow.store.base import Attempt, DeliveryState, IdempotencyRef
from payflow.store.mongo import MongoStore
from payflow.worker.processor import Processor
from tests.integration.target import (
    Target,
    create_orders,
    processor_in_this_loop,
    target_settings,
)
from tests.support import FakeClock, app_client, card_order, nothing_is_due
from tests.waiting import eventually, wait_for_status

pytestmark = pytest.mark.anyio

LEASE = timedelta(seconds=30)  # processing.lease_seconds, the default


@asynccontextmanager
async def one_order_and_a_worker_to_kill(
    mongo_db: Any, settings: Settings, clock: FakeClock, target: Target
) -> AsyncIterator[tuple[Processor, str, str]]:
    """An app with one order (no worker of its own), and a processor in the test's loop
    that the test can cancel mid-job: (processor, order number, order id)."""
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, http_transport=http) as first,
        processor_in_this_loop(first, mongo_db, http) as dying,
    ):
        (number,) = await create_orders(first, 1)
        order_id = (await first.get(f"/api/orders/{number}")).json()["id"]
        yield dying, number, order_id


def received(target: Target, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(target.received) == count

    return check


async def taken_over_after_the_lease(
    target: Target, settings: Settings, clock: FakeClock, store: MongoStore, number: str, kind: str
) -> None:
    """A second process, the merchant answering again: nothing is due for it until the
    dead holder's lease runs out; then it takes the `kind` of work over and the order is
    Paid."""
    target.gate = None
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        target.attach(c)
        assert await nothing_is_due(store, clock)
        clock.advance(seconds=LEASE.total_seconds())
        await wait_for_status(c, number, "Paid")
        metrics = (await c.get("/metrics")).text
        assert f'payflow_lease_takeovers_total{{kind="{kind}"}} 1.0' in metrics


async def test_an_order_whose_worker_died_is_taken_over_when_its_lease_expires(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock = FakeClock()
    store = MongoStore(mongo_db)
    await store.ensure_indexes()
    order = card_order("ord_orphaned", "ORPHAN-1", clock.now, "12.00")
    await store.orders.insert(order, IdempotencyRef("global", "k", "fp"), clock.now)
    assert await store.orders.claim_processing(order.id, "w_dead", clock.now, clock.now + LEASE)

    async with app_client(None, clock=clock, settings=db_settings, run_worker=True) as client:
        assert await nothing_is_due(store, clock)
        clock.advance(seconds=LEASE.total_seconds())
        await wait_for_status(client, "ORPHAN-1", "Paid")  # taken over and paid
        metrics = (await client.get("/metrics")).text
        assert 'payflow_lease_takeovers_total{kind="order"} 1.0' in metrics
    doc = await mongo_db.orders.find_one({"_id": order.id})
    assert doc["processing"]["state"] == "done"
    assert doc["processing"]["attempts"] == 2  # the dead holder's claim and the takeover


async def test_a_job_whose_worker_died_during_its_first_attempt_is_taken_over_and_the_old_holder_cannot_record(  # noqa: E501
    mongo_db: Any, db_settings: Settings
) -> None:
    """The order job holds its lease through the first attempts: a worker that dies
    mid-request leaves no delivery behind, only the job, which the next worker runs
    again once the lease expires (sending the same bytes)."""
    clock, target = FakeClock(), Target()
    target.gate = anyio.Event()  # the first worker's request never gets an answer
    settings = target_settings(db_settings)
    store = MongoStore(mongo_db)
    async with (
        one_order_and_a_worker_to_kill(mongo_db, settings, clock, target) as killed,
        anyio.create_task_group() as tasks,
    ):
        dying, number, order_id = killed
        tasks.start_soon(dying.process_order, order_id)
        await eventually(received(target, 1), "the first worker's attempt in flight")
        tasks.cancel_scope.cancel()  # the worker dies mid-request, lease still held
    assert await mongo_db.deliveries.count_documents({}) == 0
    held = await mongo_db.orders.find_one({"_id": order_id})
    assert held["processing"]["state"] == "processing"
    assert held["processing"]["owner"] == dying.owner

    # The job taken over, the event sent again.
    await taken_over_after_the_lease(target, settings, clock, store, number, "order")
    (recorded,) = await mongo_db.deliveries.find({}).to_list(None)
    assert recorded["state"] == "succeeded"
    assert [a["statusCode"] for a in recorded["log"]] == [200]
    # The old holder wakes up: its attempt and its finish no longer write anything.
    (delivery,) = await store.deliveries.for_event(recorded["eventId"])
    late = Attempt(clock.now, 1, 200, 1.0)
    assert not await store.deliveries.insert_attempted(
        delivery, late, DeliveryState.SUCCEEDED, None
    )
    assert not await store.orders.finish_processing(order_id, dying.owner, clock.now)
    after = await mongo_db.deliveries.find_one({"_id": recorded["_id"]})
    assert [a["statusCode"] for a in after["log"]] == [200]


async def test_a_retry_whose_worker_died_is_taken_over_and_the_old_holder_cannot_record(
    mongo_db: Any, db_settings: Settings
) -> None:
    """A delivery that needs another attempt has a lease of its own while it is retried."""
    clock, target = FakeClock(), Target()
    target.status = 503  # the merchant is down for the first attempt
    settings = target_settings(db_settings)
    store = MongoStore(mongo_db)
    async with one_order_and_a_worker_to_kill(mongo_db, settings, clock, target) as killed:
        dying, number, order_id = killed
        await dying.process_order(order_id)
        (failed,) = await mongo_db.deliveries.find({}).to_list(None)
        assert failed["state"] == "pending"
        assert [a["statusCode"] for a in failed["log"]] == [503]
        clock.advance(seconds=(failed["nextAttemptAt"] - clock.now).total_seconds())
        target.status, target.gate = None, anyio.Event()  # back up, but the retry hangs
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(dying.deliver_by_id, failed["_id"])

            await eventually(received(target, 2), "the retry in flight")
            tasks.cancel_scope.cancel()  # the worker dies mid-request, lease still held
    held = await mongo_db.deliveries.find_one({"_id": failed["_id"]})
    assert held["state"] == "processing"
    assert held["owner"] == dying.owner

    # The retry taken over and sent.
    await taken_over_after_the_lease(target, settings, clock, store, number, "delivery")
    late = Attempt(clock.now, 2, 200, 1.0)
    assert not await store.deliveries.record_attempt(
        held["_id"], dying.owner, late, DeliveryState.SUCCEEDED, None
    )
    done = await mongo_db.deliveries.find_one({"_id": held["_id"]})
    assert done["state"] == "succeeded"
    assert [a["statusCode"] for a in done["log"]] == [503, 200]


async def test_an_order_job_sends_to_every_endpoint_at_once(
    mongo_db: Any, db_settings: Settings
) -> None:
    """One after the other, a slow endpoint would keep the next deliveries waiting past
    their lease, for another worker to send them a second time."""
    endpoints = [
        Endpoint(id=f"we_{n}", url=f"http://merchant.test/{n}", scheme="payflow", secrets=["s"])
        for n in range(3)
    ]
    arrived: list[str] = []
    everyone = anyio.Event()

    async def slow_until_all_arrive(request: httpx.Request) -> httpx.Response:
        arrived.append(str(request.url))
        if len(arrived) == len(endpoints):
            everyone.set()
        with anyio.move_on_after(5):  # a bound for the sequential case, not a timing assert
            await everyone.wait()
        return httpx.Response(200 if everyone.is_set() else 504)

    settings = target_settings(db_settings)
    async with (
        httpx.MockTransport(slow_until_all_arrive) as http,
        app_client(None, settings=settings, http_transport=http) as client,
        processor_in_this_loop(client, mongo_db, http) as processor,
    ):
        (number,) = await create_orders(client, 1)
        order_id = (await client.get(f"/api/orders/{number}")).json()["id"]
        await replace(processor, endpoints=lambda: endpoints).process_order(order_id)
    docs = await mongo_db.deliveries.find({}).to_list(None)
    assert sorted(d["endpointId"] for d in docs) == ["we_0", "we_1", "we_2"]
    assert all((d["state"], d["attempts"]) == ("succeeded", 1) for d in docs)
