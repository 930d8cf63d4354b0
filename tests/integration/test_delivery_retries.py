"""A merchant endpoint that is down: retries on a backoff schedule, dead letters, redelivery.

The real embedded server holds the jobs; a FakeClock drives the schedule, so a retry
300 s away is one `advance` away, and the worker (timer + poller) sends it at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from payflow.config import Settings
from payflow.domain.jobs import JobKind
from tests.integration.target import (
    Target,
    create_orders,
    processor_in_this_loop,
    target_settings,
)
from tests.support import FakeClock, app_client
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

CAP = 300  # retry_max_seconds: advancing this far makes any scheduled retry due
# These tests follow one delivery's retries; the endpoint's breaker, which would park the
# deliveries of a receiver this far down, has tests of its own (test_shared_circuit.py).
NO_BREAKER = {"webhooks__breaker_failures": 1_000_000}


async def deliveries(db: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await db.deliveries.find({}).sort("orderNumber").to_list(None)
    return found


def attempts_reached(db: Any, count: int, expected: int) -> Any:
    async def check() -> bool:
        docs = await deliveries(db)
        return len(docs) == count and all(
            d["attempts"] == expected and d["state"] != "processing" for d in docs
        )

    return check


def all_orders(client: Any, numbers: list[str], status: str) -> Any:
    async def check() -> bool:
        for number in numbers:
            if (await client.get(f"/api/orders/{number}")).json()["status"] != status:
                return False
        return True

    return check


async def test_every_order_ends_paid_after_the_receiver_recovers_and_the_log_shows_retries(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock, target = FakeClock(), Target()
    target.status = 503
    settings = target_settings(db_settings, **NO_BREAKER)
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        target.attach(c)
        numbers = await create_orders(c, 5)
        for failures in (1, 2, 3):
            await eventually(attempts_reached(mongo_db, 5, failures), f"{failures} failures")
            assert all(d["state"] == "pending" for d in await deliveries(mongo_db))
            if failures == 3:
                target.status = None  # the merchant is back
            clock.advance(seconds=CAP)
        await eventually(all_orders(c, numbers, "Paid"), "every order Paid")
        await eventually(attempts_reached(mongo_db, 5, 4), "the fourth attempt logged")
        for doc in await deliveries(mongo_db):
            shown = (await c.get(f"/api/deliveries/{doc['_id']}")).json()
            assert shown["state"] == "succeeded"
            assert [a["attempt"] for a in shown["log"]] == [1, 2, 3, 4]
            assert [a["statusCode"] for a in shown["log"]] == [503, 503, 503, 200]
            assert target.attempts_for(doc["eventId"]) == [1, 2, 3, 4]
            trail = (await c.get(f"/api/orders/{doc['orderNumber']}/events")).json()
            assert [e["outcome"] for e in trail] == ["applied"]


async def test_deliveries_go_dead_when_the_receiver_stays_down_and_redeliver_brings_them_home(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock, target = FakeClock(), Target()
    target.status = 503
    settings = target_settings(db_settings, processing__max_attempts=3, **NO_BREAKER)
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        target.attach(c)
        numbers = await create_orders(c, 3)
        for failures in (1, 2):
            await eventually(attempts_reached(mongo_db, 3, failures), f"{failures} failures")
            clock.advance(seconds=CAP)
        await eventually(attempts_reached(mongo_db, 3, 3), "the last attempt")
        docs = await deliveries(mongo_db)
        assert [d["state"] for d in docs] == ["dead"] * 3
        assert all(d["nextAttemptAt"] is None for d in docs)
        clock.advance(seconds=CAP)  # nothing is retried after dead

        async def three_dead_letters_counted() -> bool:
            # The metric moves just after the database write the loop above waited for.
            metrics = (await c.get("/metrics")).text
            return "payflow_webhook_dead_letters_total 3.0" in metrics

        await eventually(three_dead_letters_counted, "three dead letters in /metrics")
        assert await all_orders(c, numbers, "Pending")()

        target.status = None
        for doc in docs:
            response = await c.post(
                f"/api/deliveries/{doc['_id']}/redeliver",
                headers={"Idempotency-Key": f"again-{doc['_id']}"},
            )
            assert response.status_code == 202, response.text
        await eventually(all_orders(c, numbers, "Paid"), "every order Paid after redelivery")
        await eventually(attempts_reached(mongo_db, 3, 4), "the redelivery logged")
        for doc in await deliveries(mongo_db):
            assert doc["state"] == "succeeded"
            assert [a["statusCode"] for a in doc["log"]] == [503, 503, 503, 200]
            assert target.attempts_for(doc["eventId"]) == [1, 2, 3, 4]


async def test_a_failed_attempt_schedules_the_next_by_exponential_backoff_with_full_jitter(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock, target = FakeClock(), Target()
    target.status = 500
    settings = target_settings(
        db_settings,
        processing__retry_base_seconds=2.0,
        processing__retry_max_seconds=5.0,
        **NO_BREAKER,
    )
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, http_transport=http) as c,
        processor_in_this_loop(c, mongo_db, http) as processor,
    ):
        processor.jitter = lambda: 0.5
        (order_number,) = await create_orders(c, 1)
        await processor.process_order((await c.get(f"/api/orders/{order_number}")).json()["id"])
        (doc,) = await deliveries(mongo_db)
        # attempt n waits jitter · min(cap, base · 2^(n-1)): 1 s, 2 s, then 2.5 s (capped)
        for number, wait in ((1, 1.0), (2, 2.0), (3, 2.5)):
            doc = (await deliveries(mongo_db))[0]
            assert doc["attempts"] == number
            due = clock.now + timedelta(seconds=wait)
            assert doc["nextAttemptAt"] == due
            clock.advance(seconds=wait - 0.001)
            await processor.deliver_by_id(doc["_id"])  # not due yet: nothing is sent
            assert len(target.received) == number
            clock.advance(seconds=0.001)
            await processor.deliver_by_id(doc["_id"])
            assert len(target.received) == number + 1


async def test_a_retry_due_after_a_clock_step_is_sent_at_the_next_poll(
    mongo_db: Any, db_settings: Settings
) -> None:
    """The timer sleeps until the next due time as it last saw it; a clock that jumps
    (or a test's clock) must not leave a due retry waiting out that sleep."""
    clock, target = FakeClock(), Target()
    target.status = 503
    settings = target_settings(
        db_settings,
        processing__retry_base_seconds=120.0,
        processing__retry_max_seconds=120.0,
        **NO_BREAKER,
    )
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        c.app_runtime.worker.processor.jitter = lambda: 1.0  # type: ignore[attr-defined]
        await create_orders(c, 1)
        await eventually(attempts_reached(mongo_db, 1, 1), "the first attempt")
        clock.advance(seconds=120)  # 120 real seconds would be far past the test's deadline
        await eventually(attempts_reached(mongo_db, 1, 2), "the retry")


async def test_queue_depth_counts_a_retry_waiting_in_this_process(
    mongo_db: Any, db_settings: Settings
) -> None:
    """A delivery job that schedules its own retry must leave it queued here, not forget it."""
    clock, target = FakeClock(), Target()
    target.status = 503
    settings = target_settings(db_settings, **NO_BREAKER)
    async with (
        target.transport() as http,
        app_client(None, clock=clock, settings=settings, run_worker=True, http_transport=http) as c,
    ):
        runtime = c.app_runtime  # type: ignore[attr-defined]
        runtime.worker.processor.jitter = lambda: 1.0
        await create_orders(c, 1)
        await eventually(attempts_reached(mongo_db, 1, 1), "the first attempt")
        clock.advance(seconds=1)
        await eventually(attempts_reached(mongo_db, 1, 2), "the second attempt")
        (doc,) = await deliveries(mongo_db)

        async def retry_known() -> bool:
            return JobKind.DELIVERY.item(doc["_id"]) in runtime.queue.known

        await eventually(retry_known, "the third attempt queued in this process")
        metrics = (await c.get("/metrics")).text
        assert "payflow_queue_depth 1.0" in metrics
