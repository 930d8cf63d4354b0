"""Shared pieces of the MongoDB store: collection types, write concern, time and cursors."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from bson import Decimal128
from pymongo import WriteConcern
from pymongo.errors import ConnectionFailure, DuplicateKeyError, WriteConcernError

from payflow.store.base import InvalidCursor

T = TypeVar("T")

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

    from payflow.store.mongo.batching import Batcher
    from payflow.store.mongo.journal import JournalBarrier

    Database = AsyncIOMotorDatabase[dict[str, Any]]
    Collection = AsyncIOMotorCollection[dict[str, Any]]

JOURNALED = WriteConcern(w=1, j=True)
# On a replica set a write is durable once a majority of the members has it in its journal:
# with w=1, a primary that dies before its secondaries copied a write takes it along (the
# new primary never had it), though a client was told it was saved. Nothing is staged
# there (`staged`): each write waits for the majority.
REPLICATED = WriteConcern(w="majority", j=True)
# A *staged* write is one its flow always follows with a journaled write before anything
# outside the process can depend on it (a response, a webhook): it is acknowledged without
# waiting for the journal. The journal is one ordered log, so that next journaled write
# makes the staged ones before it durable too, and a crash in between loses them together
# with it: the retry's ordinary case (leases, deterministic ids). One journal flush per
# flow instead of one per write; a flush is an fsync, ~4 ms on the benchmark machine.
# Staged: the idempotency claim, the order insert, the order job's claim, event and
# deliveries (then `finish_processing`), the receiver's conditional update (then the receipt).
# Those last writes are staged too and then wait for a journal flush shared by every
# concurrent flow (`write_durably`, `journal.JournalBarrier`): group commit.
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


# The driver's "the database cannot be reached" (no server selected, connection lost, the
# server is no longer the primary) and "the write was not confirmed durable" (a replica
# set's majority out of reach, or a failover while the write waited for it): a client
# sees 503 for these, never 500 (payflow.errors), and its retry with the same key finishes
# the work (the steps are idempotent).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure, WriteConcernError)


def encode_cursor(created_at: datetime, doc_id: str) -> str:
    """Opaque keyset cursor: (createdAt, _id) of the last item of a page."""
    raw = f"{int(created_at.timestamp() * 1000)}:{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, doc_id = raw.split(":", 1)
        return datetime.fromtimestamp(int(millis) / 1000, UTC), doc_id
    except (ValueError, UnicodeDecodeError, OverflowError, OSError) as exc:
        raise InvalidCursor("cursor is not one payflow issued") from exc


def after_cursor(cursor: str | None, time_field: str) -> dict[str, Any]:
    """The query part selecting items after `cursor` in (time desc, _id desc) order."""
    if cursor is None:
        return {}
    moment, doc_id = decode_cursor(cursor)
    return {"$or": [{time_field: {"$lt": moment}}, {time_field: moment, "_id": {"$lt": doc_id}}]}


def bsonable(value: Any) -> Any:
    """Decimals become Decimal128 so stored documents keep exact amounts."""
    if isinstance(value, Decimal):
        return Decimal128(value)
    if isinstance(value, Mapping):
        return {str(k): bsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bsonable(v) for v in value]
    return value
