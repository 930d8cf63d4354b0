"""Natural batching: concurrent single-document operations of one kind become one command.

Under load, dozens of requests and worker tasks make the same kind of write at the same
moment (insert an order, claim a job, save an event). Each command costs the database a
fixed overhead far above its per-document work (the embedded server: ~1-3 ms of Python
per command), so `Batcher` sends them together: a drain task sends what is queued as one
batch, and whatever is queued meanwhile as the next. Alone, a call costs what it did
before (a batch of one, no timer); under load, one round trip serves many.

The drain task belongs to no caller, so a caller that is cancelled (a client gone, a
shutdown) never takes other callers' answers with it: its own future is simply dropped.

Every operation batched this way keeps its single-document meaning: inserts report a
duplicate key per document (`insert_many(ordered=False)`), and claims mark what they
took with a token so each caller gets exactly the documents its batch changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, WriteConcernError

from payflow.ids import token

In = TypeVar("In")
Out = TypeVar("Out")

MAX_BATCH = 256
DUPLICATE_KEY = 11000


class BatchAborted(RuntimeError):
    """The batch was cancelled (the process is stopping) before its results came back."""


class Batcher(Generic[In, Out]):
    def __init__(
        self, run: Callable[[list[In]], Awaitable[Sequence[Out]]], max_batch: int = MAX_BATCH
    ) -> None:
        """`run` does one batch and returns one result per item, in order (or raises)."""
        self._run = run
        self._max = max_batch
        self._queue: list[tuple[In, asyncio.Future[Out]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._queue.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch + self._queue:
                    if not future.done():
                        future.set_exception(BatchAborted("the process is stopping"))
                self._queue = []
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


async def find_each(
    collection: Any, ids: list[str], projection: dict[str, Any] | None = None
) -> list[dict[str, Any] | None]:
    """Per id, its document (or None): one `find` by `_id` for a whole batch of reads."""
    found = {doc["_id"]: doc async for doc in collection.find({"_id": {"$in": ids}}, projection)}
    return [found.get(doc_id) for doc_id in ids]


def unconfirmed(exc: BulkWriteError) -> None:
    """A batch whose write concern was not met (a replica set's majority out of reach, a
    failover while it waited) raises what a single write would: `WriteConcernError`, an
    outage (`store.mongo.outages`), never "written" — its documents may not be durable."""
    concern_errors = exc.details.get("writeConcernErrors") or []
    if concern_errors:
        first = concern_errors[0]
        raise WriteConcernError(
            first.get("errmsg", "write concern not met"), first.get("code"), first
        )


async def insert_each(collection: Any, docs: list[dict[str, Any]]) -> list[bool]:
    """Insert every document; per document, False when its key already exists."""
    inserted = [True] * len(docs)
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        unconfirmed(exc)
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        for error in errors:
            inserted[error["index"]] = False
    return inserted


async def update_each(
    collection: Any, updates: list[tuple[dict[str, Any], dict[str, Any]]], key: str = "_id"
) -> list[bool]:
    """Apply each `(filter, update)` (every filter names a document by the unique `key`);
    per update, whether it changed its document. One `bulk_write` and at most one read,
    whatever their number: each update also sets `_op` to a token of its own, so a matched
    document always changes and "all modified" needs no read; otherwise the read tells whose
    token each document holds. Two updates of one document in a batch are only told apart
    when the first changes what the second's filter asks for (a state both require), which
    every caller's filter does.
    """
    tokens = [token() for _ in updates]
    marked = [
        (query, {**update, "$set": {**update.get("$set", {}), "_op": mark}})
        for (query, update), mark in zip(updates, tokens, strict=True)
    ]
    try:
        result = await collection.bulk_write([UpdateOne(q, u) for q, u in marked], ordered=False)
        modified = result.modified_count
    except BulkWriteError as exc:
        unconfirmed(exc)
        raise
    except TypeError:
        # mongomock (the unit tests' database) cannot take pymongo 4.9+'s `UpdateOne`.
        modified = 0
        for query, update in marked:
            modified += (await collection.update_one(query, update)).modified_count
    if modified == len(updates):
        return [True] * len(updates)  # the usual case: every update applied, no read needed
    ids = list(dict.fromkeys(query[key] for query, _ in updates))
    found = collection.find({key: {"$in": ids}}, {key: 1, "_op": 1})
    holds = {doc[key]: doc.get("_op") async for doc in found}
    return [holds.get(query[key]) == mark for (query, _), mark in zip(updates, tokens, strict=True)]
