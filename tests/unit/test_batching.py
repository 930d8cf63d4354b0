"""Natural batching: concurrent single-document operations share one command, and every
caller still gets its own document's answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import BulkWriteError, WriteConcernError

from payflow.store.mongo.batching import Batcher, insert_each, unconfirmed, update_each

pytestmark = pytest.mark.anyio


async def test_a_lone_call_is_a_batch_of_one() -> None:
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
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(batcher.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def run(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return items

    batcher = Batcher(run)
    with pytest.raises(ConnectionError):
        await batcher.submit(1)
    assert await batcher.submit(2) == 2


async def test_a_cancelled_caller_does_not_take_the_others_answers_with_it() -> None:
    gate = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        await gate.wait()
        return items

    batcher = Batcher(run)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.01)
    first.cancel()
    gate.set()
    assert await second == 2
    assert first.cancelled()


async def test_insert_each_reports_a_duplicate_per_document() -> None:
    collection: Any = AsyncMongoMockClient()["db"]["things"]
    await collection.insert_one({"_id": "b"})
    assert await insert_each(collection, [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]) == [
        True,
        False,
        True,
    ]
    assert await collection.count_documents({}) == 3


async def test_update_each_says_which_updates_changed_their_document() -> None:
    collection: Any = AsyncMongoMockClient()["db"]["things"]
    await collection.insert_many([{"_id": "a", "lease": "x"}, {"_id": "b", "lease": "y"}])
    changed = await update_each(
        collection,
        [
            ({"_id": "a", "lease": "x"}, {"$set": {"state": "done"}}),
            ({"_id": "b", "lease": "stale"}, {"$set": {"state": "done"}}),
            ({"_id": "missing"}, {"$set": {"state": "done"}}),
        ],
    )
    assert changed == [True, False, False]
    assert await collection.find_one({"_id": "b"}) == {"_id": "b", "lease": "y"}


async def test_update_each_by_another_unique_key_tells_the_first_conditional_move_apart() -> None:
    collection: Any = AsyncMongoMockClient()["db"]["orders"]
    await collection.insert_many([{"_id": 1, "n": "A", "status": "Pending"}])
    pending = {"n": "A", "status": "Pending"}
    changed = await update_each(
        collection,
        [(pending, {"$set": {"status": "Paid"}}), (pending, {"$set": {"status": "Failed"}})],
        key="n",
    )
    assert changed == [True, False]
    assert (await collection.find_one({"n": "A"}))["status"] == "Paid"


def test_a_batch_whose_write_concern_failed_is_an_outage_not_a_success() -> None:
    """insert_many(ordered=False) reports an unmet majority inside BulkWriteError; read as
    "no duplicate", the batch would count as written though it may not be durable."""
    failed = BulkWriteError(
        {
            "writeErrors": [],
            "writeConcernErrors": [{"code": 64, "errmsg": "waiting for replication timed out"}],
        }
    )
    with pytest.raises(WriteConcernError, match="replication timed out"):
        unconfirmed(failed)
    unconfirmed(BulkWriteError({"writeErrors": [{"index": 0, "code": 11000}]}))
