"""The work queue moves a waiting id up when it becomes due earlier (a canceled order's job)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from payflow.worker.channel import WorkQueue
from tests.support import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clock_and_queue() -> AsyncIterator[tuple[FakeClock, WorkQueue]]:
    clock = FakeClock()
    queue = WorkQueue(10, clock)
    try:
        yield clock, queue
    finally:
        await queue.aclose()


def drain(queue: WorkQueue) -> list[str]:
    items = []
    while True:
        try:
            items.append(queue.receive.receive_nowait())
        except anyio.WouldBlock:
            return items


async def test_an_id_due_earlier_is_sent_now_and_only_once(
    clock_and_queue: tuple[FakeClock, WorkQueue],
) -> None:
    clock, queue = clock_and_queue
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(queue.run_timer)
        assert queue.schedule("o:1", clock.now + timedelta(minutes=10))
        await wait_all_tasks_blocked()
        assert drain(queue) == []
        assert queue.schedule("o:1", clock.now)  # canceled: its job is due at once
        assert drain(queue) == ["o:1"]
        clock.advance(minutes=10)  # the old due time passes: nothing is sent twice
        queue.wake()
        await wait_all_tasks_blocked()
        assert drain(queue) == []
        tasks.cancel_scope.cancel()


async def test_a_later_time_does_not_delay_a_waiting_id(
    clock_and_queue: tuple[FakeClock, WorkQueue],
) -> None:
    clock, queue = clock_and_queue
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(queue.run_timer)
        queue.schedule("o:1", clock.now + timedelta(seconds=1))
        queue.schedule("o:1", clock.now + timedelta(minutes=5))
        clock.advance(seconds=1)
        queue.wake()
        await wait_all_tasks_blocked()
        assert drain(queue) == ["o:1"]
        tasks.cancel_scope.cancel()
