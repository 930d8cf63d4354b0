"""Deliveries: recorded once with their first attempt, then a small job of their own —
due at their next attempt, claimed under a lease, taken over once it expires, logged only
by their holder, brought back by a redelivery, and paged per endpoint newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payflow.store.base import Attempt, Delivery, DeliveryState
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import FakeClock

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]
LEASE = timedelta(seconds=30)
RETRY = timedelta(seconds=10)


def delivery(n: int, clock: FakeClock, endpoint: str = "we_1") -> Delivery:
    return Delivery(
        id=f"dlv_{n}",
        event_id=f"evt_{n}",
        event_type="payment.succeeded",
        order_number=f"ORD-{n}",
        endpoint_id=endpoint,
        url="http://127.0.0.1:9/hooks",
        body=b'{"id":"evt"}',
        state=DeliveryState.PROCESSING,
        attempts=0,
        next_attempt_at=None,
        created_at=clock.now + timedelta(seconds=n),
    )


def attempt(clock: FakeClock, number: int, status: int | None) -> Attempt:
    return Attempt(clock.now, number, status, 12.5, None if status else "refused", "ok")


async def failed_once(store: MongoStore, clock: FakeClock, n: int = 1) -> Delivery:
    made = delivery(n, clock)
    retry_at = clock.now + RETRY
    assert await store.deliveries.insert_attempted(
        made, attempt(clock, 1, 503), DeliveryState.PENDING, retry_at
    )
    return made


async def test_a_delivery_is_recorded_once_with_its_first_attempt(
    store: MongoStore, clock: FakeClock
) -> None:
    made = delivery(1, clock)
    first = attempt(clock, 1, 200)
    assert await store.deliveries.insert_attempted(made, first, DeliveryState.SUCCEEDED, None)
    late = attempt(clock, 1, 500)
    assert not await store.deliveries.insert_attempted(made, late, DeliveryState.PENDING, None)
    (stored,) = await store.deliveries.for_event("evt_1")
    assert (stored.state, stored.attempts, stored.delivered_at) == ("succeeded", 1, clock.now)
    assert list(stored.log) == [first]
    assert stored.body == made.body
    assert await store.deliveries.get("dlv_1") == stored
    assert await store.deliveries.get("dlv_9") is None
    assert await store.deliveries.due(clock.now + timedelta(days=1), 10) == []


async def test_a_retry_is_due_at_its_time_and_claimed_once_by_its_holder(
    store: MongoStore, clock: FakeClock
) -> None:
    await failed_once(store, clock)
    deliveries = store.deliveries
    assert await deliveries.due(clock.now, 10) == []
    assert await deliveries.claim("dlv_1", "w1", clock.now, clock.now + LEASE) is None
    clock.advance(seconds=RETRY.total_seconds())
    assert await deliveries.due(clock.now, 10) == [("dlv_1", clock.now)]
    claimed = await deliveries.claim("dlv_1", "w1", clock.now, clock.now + LEASE)
    assert claimed is not None
    assert (claimed.attempts, claimed.took_over) == (1, False)
    assert await deliveries.claim("dlv_1", "w2", clock.now, clock.now + LEASE) is None
    second = attempt(clock, 2, 200)
    assert not await deliveries.record_attempt("dlv_1", "w2", second, DeliveryState.SUCCEEDED, None)
    assert await deliveries.record_attempt("dlv_1", "w1", second, DeliveryState.SUCCEEDED, None)
    done = await deliveries.get("dlv_1")
    assert done is not None
    assert (done.state, done.attempts, [a.status_code for a in done.log]) == (
        "succeeded",
        2,
        [503, 200],
    )


async def test_a_dead_holders_retry_is_taken_over_after_its_lease(
    store: MongoStore, clock: FakeClock
) -> None:
    await failed_once(store, clock)
    clock.advance(seconds=RETRY.total_seconds())
    assert await store.deliveries.claim("dlv_1", "dead", clock.now, clock.now + LEASE)
    assert await store.deliveries.claim("dlv_1", "w2", clock.now, clock.now + LEASE) is None
    clock.advance(seconds=LEASE.total_seconds())
    assert [d for d, _ in await store.deliveries.due(clock.now, 10)] == ["dlv_1"]
    taken = await store.deliveries.claim("dlv_1", "w2", clock.now, clock.now + LEASE)
    assert taken is not None
    assert taken.took_over
    late = attempt(clock, 2, 200)
    assert not await store.deliveries.record_attempt(
        "dlv_1", "dead", late, DeliveryState.SUCCEEDED, None
    )


async def test_released_deliveries_are_due_at_once(store: MongoStore, clock: FakeClock) -> None:
    await failed_once(store, clock)
    clock.advance(seconds=RETRY.total_seconds())
    assert await store.deliveries.claim("dlv_1", "w1", clock.now, clock.now + LEASE)
    assert await store.deliveries.release_leases("w1", clock.now) == 1
    assert await store.deliveries.due(clock.now, 10) == [("dlv_1", clock.now)]


async def test_a_redelivery_brings_back_a_finished_delivery_but_not_one_in_flight(
    store: MongoStore, clock: FakeClock
) -> None:
    await failed_once(store, clock)
    assert await store.deliveries.redeliver("dlv_1", clock.now) is None  # still pending
    clock.advance(seconds=RETRY.total_seconds())
    assert await store.deliveries.claim("dlv_1", "w1", clock.now, clock.now + LEASE)
    dead = attempt(clock, 2, 500)
    assert await store.deliveries.record_attempt("dlv_1", "w1", dead, DeliveryState.DEAD, None)
    assert await store.deliveries.due(clock.now + timedelta(days=1), 10) == []
    back = await store.deliveries.redeliver("dlv_1", clock.now)
    assert back is not None
    assert (back.state, back.next_attempt_at) == ("pending", clock.now)
    assert await store.deliveries.due(clock.now, 10) == [("dlv_1", clock.now)]
    assert await store.deliveries.redeliver("dlv_9", clock.now) is None


async def test_an_endpoints_deliveries_page_newest_first(
    store: MongoStore, clock: FakeClock
) -> None:
    for n in range(3):
        made = delivery(n, clock)
        ok = attempt(clock, 1, 200)
        assert await store.deliveries.insert_attempted(made, ok, DeliveryState.SUCCEEDED, None)
    other = delivery(3, clock, "we_2")
    await store.deliveries.insert_attempted(
        other, attempt(clock, 1, 200), DeliveryState.SUCCEEDED, None
    )
    first, cursor = await store.deliveries.for_endpoint("we_1", 2, None)
    assert [d.id for d in first] == ["dlv_2", "dlv_1"]
    rest, end = await store.deliveries.for_endpoint("we_1", 2, cursor)
    assert ([d.id for d in rest], end) == (["dlv_0"], None)
