"""Group commit: one journal flush makes the writes of every concurrent flow durable.

The hot flows end in one *journaled batch*: a create's order insert, an order job's event
insert and its done mark, the receiver's receipt. Their concurrent writes go to the
database as one command (`store.mongo.batching`), journaled once: one fsync for the
batch, and it covers every staged write the flows made before (the journal is one
ordered log). That replaced, on those paths, a separate flush per wave of flows: a
journaled `$inc` of a counter (an update, about two inserts' cost on the embedded
server), measured in docs/decisions.md ("Journaled last writes").

The other flows (a delivery retry's attempt log, a cancel, a kept 4xx) still write
without waiting for the journal and then call `JournalBarrier.sync()` before anything
outside the process may depend on it (a response, a webhook). `sync` returns
once a journaled write that *started after the call* has been acknowledged. The journal
is one ordered log for the whole server, so that write's flush covers every write the
caller had acknowledged before; a crash before it loses those writes, which is a retry's
ordinary case (leases, deterministic ids).

Only one flush is in flight per process; callers arriving meanwhile share the next one.
So N concurrent flows cost one fsync, not N. The flush is a journaled `$inc` of one
counter document in the `journal` collection.

A journaled batch holds its collection's write lock across its fsync on the embedded
server (it keeps the lock for the whole commit, sync included), so the next batch of
that collection waits for it: that is the batch forming, not lost time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo import WriteConcern
from pymongo.errors import DuplicateKeyError

if TYPE_CHECKING:
    from payflow.store.mongo.batching import Batcher
    from payflow.store.mongo.motor_types import Collection

T = TypeVar("T")

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


# A *staged* write is one its flow always follows with a journaled write before anything
# outside the process can depend on it (a response, a webhook): it is acknowledged without
# waiting for the journal. The journal is one ordered log, so that next journaled write
# makes the staged ones before it durable too, and a crash in between loses them together
# with it: the retry's ordinary case (leases, deterministic ids). One journal flush per
# flow instead of one per write; a flush is an fsync, ~4 ms on the benchmark machine.
# Staged: the idempotency claim, the order job's claim and deliveries (then its journaled
# done mark, `finish_processing`), the receiver's conditional update (then its journaled
# receipt). Other flows' last writes are staged too and then wait for a journal flush
# shared by every concurrent flow (`write_durably`, `JournalBarrier`).
STAGED = WriteConcern(w=1)


async def write_durably(
    collection: Collection,
    journal: JournalBarrier | None,
    write: Callable[[Collection], Awaitable[T]],
) -> T:
    """The last write of a flow: staged, then the shared journal flush (group commit), so
    it and every staged write before it are durable when this returns. Without a barrier
    (a store built on its own), one journaled write does the same."""
    if journal is None:
        return await write(collection)
    try:
        result = await write(staged(collection))
    except DuplicateKeyError:
        await journal.sync()  # refused, but the flow's earlier writes still need the flush
        raise
    await journal.sync()
    return result


async def update_durably(
    collection: Collection,
    journal: JournalBarrier | None,
    updates: Batcher[tuple[dict[str, Any], dict[str, Any]], bool],
    query: dict[str, Any],
    update: dict[str, Any],
) -> bool:
    """`write_durably` for one update by `_id`, batched with concurrent ones (`updates`
    runs `batching.update_each` on the staged collection); whether it changed the document."""
    if journal is None:
        result = await collection.update_one(query, update)
        return bool(result.modified_count == 1)
    changed = await updates.submit((query, update))
    await journal.sync()
    return changed


def staged(collection: Collection) -> Collection:
    """`collection` for staged writes; unchanged when it is not journaled anyway (tests),
    and on a replica set, where every write waits for the majority itself: there a staged
    write and the flush meant to cover it can go to two different primaries when a
    failover falls between them, and the old primary takes the staged write along though
    the flush succeeded (the failover test found an order paid by its webhook whose
    event was gone)."""
    concern = collection.write_concern.document
    if not concern.get("j") or concern.get("w") == "majority":
        return collection
    unjournaled: Collection = collection.database.get_collection(
        collection.name, write_concern=STAGED
    )
    return unjournaled
