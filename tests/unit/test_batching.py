"""Natural batching: concurrent single-document operations share one command, and every
caller still gets its own document's answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from payflow.store.mongo.batching import BatchAborted, Batcher, insert_each

pytestmark = pytest.mark.anyio


async def test_a_lone_call_runs_at_once_as_a_batch_of_one() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        return [i * 10 for i in items]

    assert await Batcher(run).submit(4) == 40
    assert batches == [[4]]


async def test_calls_arriving_while_a_batch_runs_go_together_in_the_next() -> None:
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await gate.wait()
        return [i * 10 for i in items]

    batcher = Batcher(run)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_a_failed_batch_fails_each_of_its_callers() -> None:
    async def run(items: list[int]) -> list[int]:
        raise ConnectionError("database gone")

    with pytest.raises(ConnectionError):
        await Batcher(run).submit(1)


async def test_callers_left_waiting_when_the_leader_is_cancelled_are_told() -> None:
    started = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        started.set()
        await asyncio.Event().wait()  # never answers
        return items

    batcher = Batcher(run)
    leader = asyncio.create_task(batcher.submit(1))
    await started.wait()
    follower = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(BatchAborted):
        await follower


async def test_insert_each_reports_a_duplicate_per_document() -> None:
    collection: Any = AsyncMongoMockClient()["db"]["things"]
    await collection.insert_one({"_id": "b"})
    assert await insert_each(collection, [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]) == [
        True,
        False,
        True,
    ]
    assert await collection.count_documents({}) == 3
