"""The poller looks for forgotten work only when this process has none waiting.

A backlog on the channel means every job the poll would find is already here; reading
them all again each round cost the database more than the jobs themselves.
"""

from __future__ import annotations

from typing import Any

import pytest

from payflow.domain.jobs import JobKind
from payflow.store.base import IdempotencyRef
from payflow.store.mongo import MongoStore
from payflow.worker.channel import WorkQueue
from payflow.worker.poller import poll_once
from tests.support import FakeClock, card_order

pytestmark = pytest.mark.anyio


async def test_a_poll_waits_while_due_work_is_waiting_and_finds_the_job_after(
    mock_db: Any, clock: FakeClock
) -> None:
    store = MongoStore(mock_db)
    order = card_order("ord_forgotten", "FORGOTTEN-1", clock.now)
    await store.orders.insert(order, IdempotencyRef("global", "k", "fp"), clock.now)
    queue = WorkQueue(10, clock)
    try:
        assert queue.schedule("o:ord_waiting", clock.now)  # due: on the channel
        assert queue.ready == 1

        assert await poll_once(store, queue, clock, 100, busy_at=1) == 0
        assert JobKind.ORDER.item(order.id) not in queue.known

        assert queue.receive.receive_nowait() == "o:ord_waiting"  # a worker takes it
        queue.done("o:ord_waiting")
        assert queue.ready == 0
        assert await poll_once(store, queue, clock, 100, busy_at=1) == 1
        assert JobKind.ORDER.item(order.id) in queue.known
    finally:
        await queue.aclose()


async def test_without_a_threshold_a_poll_always_looks(mock_db: Any, clock: FakeClock) -> None:
    store = MongoStore(mock_db)
    order = card_order("ord_found", "FOUND-1", clock.now)
    await store.orders.insert(order, IdempotencyRef("global", "k", "fp"), clock.now)
    queue = WorkQueue(10, clock)
    try:
        assert queue.schedule("o:ord_waiting", clock.now)
        assert await poll_once(store, queue, clock, 100) == 1
        assert queue.ready == 2
    finally:
        await queue.aclose()
