"""Stopping a worker: in-flight deliveries finish within the grace period; what cannot
finish is handed back at once, so the next worker picks it up without waiting a lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

from payflow.config import Settings
from payflow.store.mongo import MongoStore
from tests.integration.target import Target, create_orders, in_app_loop, target_settings
from tests.support import FakeClock, app_client
from tests.waiting import eventually, wait_for_status

pytestmark = pytest.mark.anyio


def received(target: Target, count: int) -> Any:
    async def check() -> bool:
        return len(target.received) >= count

    return check


async def test_an_in_flight_delivery_finishes_within_the_grace_period(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock, target = FakeClock(), Target()
    gate = target.gate = anyio.Event()
    settings = target_settings(db_settings)
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        target.attach(c)
        (number,) = await create_orders(c, 1)
        await eventually(received(target, 1), "the delivery in flight")
        worker = c.app_runtime.worker  # type: ignore[attr-defined]

        async def answer_once_stopping() -> None:
            async def stopping() -> bool:
                return bool(worker.stopping)

            await eventually(stopping, "the worker to start stopping")
            await in_app_loop(c, gate.set)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(answer_once_stopping)
            await in_app_loop(c, worker.stop, 30)
        assert not worker.alive
        (doc,) = await mongo_db.deliveries.find({}).to_list(None)
        assert (doc["state"], doc["attempts"]) == ("succeeded", 1)
        assert (await c.get(f"/api/orders/{number}")).json()["status"] == "Paid"
        ready = await c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["worker"] == "stopped"


async def test_unfinished_work_is_handed_back_and_a_new_worker_takes_it_at_once(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock, target = FakeClock(), Target()
    target.gate = anyio.Event()  # never answered: the delivery cannot finish in the grace
    settings = target_settings(db_settings, processing__delay_seconds=60)
    store = MongoStore(mongo_db)
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        (first,) = await create_orders(c, 1, prefix="FIRST")
        clock.advance(seconds=60)
        await eventually(received(target, 1), "the first order's delivery in flight")
        (second,) = await create_orders(c, 1, prefix="SECOND")
        # The second order's job is mid-way in this worker when it is told to stop.
        worker = c.app_runtime.worker  # type: ignore[attr-defined]
        second_id = (await c.get(f"/api/orders/{second}")).json()["id"]
        due = clock.now + timedelta(seconds=60)
        assert await store.orders.claim_processing(
            second_id, worker.processor.owner, due, clock.now + timedelta(seconds=30)
        )
        await in_app_loop(c, worker.stop, 0.2)
    # The first order's webhook was never answered: its job (which holds the first
    # attempt) is handed back, and no delivery is recorded without an attempt.
    assert await mongo_db.deliveries.find_one({"orderNumber": first}) is None
    for number in (first, second):
        order = await mongo_db.orders.find_one({"orderNumber": number})
        assert order["processing"]["state"] == "queued"
        assert "owner" not in order["processing"]
        assert order["processing"]["dueAt"] == clock.now

    target.gate = None
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        target.attach(c)  # the clock stands still: no lease has to expire first
        await wait_for_status(c, first, "Paid")  # the handed-back delivery sent
        await wait_for_status(c, second, "Paid")  # the handed-back order processed
        metrics = (await c.get("/metrics")).text
        assert "payflow_lease_takeovers_total{" not in metrics  # handed back, not taken over
