"""Group commit: one journal flush makes the writes of every concurrent flow durable.

A flow (create an order, run an order job, receive a webhook, log a delivery attempt)
writes without waiting for the journal and then calls `JournalBarrier.sync()` before
anything outside the process may depend on it (a response, a webhook). `sync` returns
once a journaled write that *started after the call* has been acknowledged. The journal
is one ordered log for the whole server, so that write's flush covers every write the
caller had acknowledged before; a crash before it loses those writes, which is a retry's
ordinary case (leases, deterministic ids).

Only one flush is in flight per process; callers arriving meanwhile share the next one.
So N concurrent flows cost one fsync, not N — and none holds a collection's write lock
across an fsync (the embedded server keeps it for the whole commit, sync included: with
a journaled write per flow, writes to one collection queued behind each other's fsyncs).

The flush is a journaled `$inc` of one counter document in the `journal` collection.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pymongo.errors import DuplicateKeyError

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

BARRIER_ID = "barrier"


class JournalBarrier:
    def __init__(self, collection: Collection) -> None:
        """`collection` carries the write concern of a flush: journaled in production."""
        self._collection = collection
        self._lock: asyncio.Lock | None = None
        self._started = 0  # flushes begun
        self._finished = 0  # the highest flush known to be acknowledged

    async def sync(self) -> None:
        """Return once every write this caller has had acknowledged is journaled."""
        needed = self._started + 1  # the first flush to begin after this call
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._finished >= needed:
                return  # a flush that began after our call has completed meanwhile
            self._started += 1
            number = self._started
            try:
                await self._flush()
            except DuplicateKeyError:  # another process created the counter at that moment
                await self._flush()
            self._finished = number

    async def _flush(self) -> None:
        await self._collection.update_one(
            {"_id": BARRIER_ID}, {"$inc": {"flushes": 1}}, upsert=True
        )
