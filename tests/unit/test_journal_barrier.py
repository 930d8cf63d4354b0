"""Group commit: concurrent flows share journal flushes, and none is covered by a flush
that began before it asked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from payflow.store.mongo.journal import JournalBarrier

pytestmark = pytest.mark.anyio


class GatedCollection:
    """Counts flushes; each one waits until the test opens its gate."""

    def __init__(self) -> None:
        self.started = 0
        self.gates: list[asyncio.Event] = []
        self.fail_first_with: Exception | None = None

    async def update_one(self, *_: Any, **__: Any) -> None:
        self.started += 1
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail_first_with is not None:
            error, self.fail_first_with = self.fail_first_with, None
            raise error


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_waiting_on_a_flush_in_flight_share_the_next_one() -> None:
    collection = GatedCollection()
    barrier = JournalBarrier(collection)  # type: ignore[arg-type]
    first = asyncio.create_task(barrier.sync())
    await settle()
    assert collection.started == 1
    later = [asyncio.create_task(barrier.sync()) for _ in range(5)]
    await settle()
    collection.gates[0].set()
    await first
    await settle()
    # The five asked while flush 1 was running, which may not cover them: one more flush.
    assert collection.started == 2
    assert not any(task.done() for task in later)
    collection.gates[1].set()
    await asyncio.gather(*later)
    assert collection.started == 2


async def test_a_caller_with_nothing_in_flight_gets_its_own_flush() -> None:
    collection = GatedCollection()
    barrier = JournalBarrier(collection)  # type: ignore[arg-type]
    for number in (1, 2):
        task = asyncio.create_task(barrier.sync())
        await settle()
        assert collection.started == number
        collection.gates[-1].set()
        await task


async def test_a_failed_flush_fails_its_caller_and_the_next_caller_flushes_again() -> None:
    collection = GatedCollection()
    collection.fail_first_with = ConnectionError("database gone")
    barrier = JournalBarrier(collection)  # type: ignore[arg-type]
    first = asyncio.create_task(barrier.sync())
    await settle()
    collection.gates[0].set()
    with pytest.raises(ConnectionError):
        await first
    second = asyncio.create_task(barrier.sync())
    await settle()
    assert collection.started == 2
    collection.gates[1].set()
    await second


async def test_the_counter_created_by_another_process_at_that_moment_is_retried() -> None:
    collection = GatedCollection()
    collection.fail_first_with = DuplicateKeyError("E11000 journal barrier")
    barrier = JournalBarrier(collection)  # type: ignore[arg-type]
    task = asyncio.create_task(barrier.sync())
    await settle()
    collection.gates[0].set()
    await settle()
    assert collection.started == 2
    collection.gates[1].set()
    await task
