"""Idempotency records: one per (scope, key), claimed by one insert on a unique `_id`.

A record's `_id` is derived from (scope, key), so every later step (complete, release,
take over) is a point lookup on `_id` plus the lease token. A filter naming
scope, key and token instead is served by some servers (the embedded one among them)
from the `(scope, key)` index's leading field alone: every record of the scope.

A create writes no record here at all: its order, whose `_id` comes from the key, is
inserted with the key, its fingerprint and the response, and that one insert claims the
key (`idempotency.execute_keeping`). `key_uses` reads such an order back, so a key a
create used is taken for every other route too. (An older payflow's create wrote a record
naming its order, `resultOrder`, which reads as completed once that order exists.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Binary

from payflow.domain.idempotency_keys import KeyState
from payflow.store.base import IdempotencyRecord, KeyUses, StoredResponse
from payflow.store.mongo.batching import Batcher, find_each, insert_each, update_each
from payflow.store.mongo.journal import staged, update_durably, write_durably
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.journal import JournalBarrier
    from payflow.store.mongo.motor_types import Collection


# The response a record's result (its order) carries, if that result exists for the record.
ResultLookup = Callable[[IdempotencyRecord], Awaitable[StoredResponse | None]]
# The live use of (scope, key) kept on the order a create made with it (`OrderStore.key_uses`).
UsesLookup = Callable[[str, str, datetime], Awaitable[KeyUses]]


@translating_outages
class MongoIdempotencyStore:
    def __init__(
        self,
        collection: Collection,
        journal: JournalBarrier | None = None,
        results: ResultLookup | None = None,
        uses: UsesLookup | None = None,
    ) -> None:
        self.collection = collection
        self.staged = staged(collection)
        self.journal = journal
        self.results = results
        self.uses = uses
        # Concurrent requests' look-ups and claims go together (store/mongo/batching.py).
        self._reads: Batcher[str, dict[str, Any] | None] = Batcher(
            lambda ids: find_each(self.collection, ids)
        )
        self._inserts: Batcher[dict[str, Any], bool] = Batcher(
            lambda docs: insert_each(self.staged, docs)
        )
        self._updates: Batcher[tuple[dict[str, Any], dict[str, Any]], bool] = Batcher(
            lambda items: update_each(self.staged, items)
        )

    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        # A read first: a replay (the record exists) then costs one find, no write at all.
        # It decides nothing: a record that is there would be returned by the upsert too.
        existing = await self._reads.submit(record_id(record))
        if existing is not None:
            return await self._as_found(existing)
        # An insert, not an upsert: the embedded server (SecantusDB 0.7.0b3) answers
        # concurrent `$setOnInsert` upserts of one key with "no document before" (or none
        # after) for several of them, so each would think it had won. The unique `_id`
        # refuses every insert but one; a loser reads the winner's record.
        for _ in range(2):
            if not await self._inserts.submit({"_id": record_id(record), **_record_doc(record)}):
                found = await self.collection.find_one({"_id": record_id(record)})
                if found is not None:
                    return await self._as_found(found)
                continue  # released in between: try again
            return None
        found = await self.collection.find_one({"_id": record_id(record)})
        if found is None:
            # Refused twice and released twice in between: never claim without a record.
            # Our own record, returned as the one found, reads as held (409, retry).
            return record
        return await self._as_found(found)

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        doc = await self._reads.submit(f"{scope} {key}")
        return None if doc is None else await self._as_found(doc)

    async def key_uses(self, scope: str, key: str, now: datetime) -> KeyUses:
        if self.uses is None:
            return KeyUses(0, None)
        return await self.uses(scope, key, now)

    async def _as_found(self, doc: Mapping[str, Any]) -> IdempotencyRecord:
        """The record, completed with its result's response when its result carries one."""
        record = _record(doc)
        if (
            record.state is not KeyState.IN_PROGRESS
            or record.result_order is None
            or self.results is None
        ):
            return record
        response = await self.results(record)
        if response is None:
            return record  # still running, or its holder died before inserting the order
        return replace(record, state=KeyState.COMPLETED, response=response)

    async def replace_if_token(self, expected_token: str, record: IdempotencyRecord) -> bool:
        result = await self.collection.update_one(
            {"_id": record_id(record), "leaseToken": expected_token},
            {"$set": _record_doc(record), "$unset": _left_out(record)},
        )
        return bool(result.modified_count == 1)

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> bool:
        update = {"$set": {"state": KeyState.COMPLETED, "response": response_doc(response)}}
        return await update_durably(  # the create flow's journal flush, batched
            self.collection,
            self.journal,
            self._updates,
            {"_id": record_id(record), "leaseToken": record.lease_token},
            update,
        )

    async def flush_journal(self) -> None:
        if self.journal is not None:  # else every write was journaled on its own
            await self.journal.sync()

    async def release(self, record: IdempotencyRecord) -> None:
        await write_durably(
            self.collection,
            self.journal,
            lambda c: c.delete_one({"_id": record_id(record), "leaseToken": record.lease_token}),
        )


def record_id(record: IdempotencyRecord) -> str:
    """`<scope> <key>`: unambiguous, because a key never contains a space."""
    return f"{record.scope} {record.key}"


def response_doc(response: StoredResponse) -> dict[str, Any]:
    """A response as stored for replays (on a record, or on the order a create made)."""
    return {
        "status": response.status,
        "headers": [[k, v] for k, v in response.headers.items()],
        "body": Binary(response.body),
    }


def stored_response(doc: Mapping[str, Any]) -> StoredResponse:
    return StoredResponse(
        status=int(doc["status"]),
        headers={str(k): str(v) for k, v in doc["headers"]},
        body=bytes(doc["body"]),
    )


def _record_doc(record: IdempotencyRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "scope": record.scope,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "state": record.state,
        "leaseToken": record.lease_token,
        "leaseExpiresAt": record.lease_expires_at,
        "expiresAt": record.expires_at,
    }
    if record.result_order is not None:
        doc["resultOrder"] = record.result_order
    return doc


def _left_out(record: IdempotencyRecord) -> dict[str, str]:
    """What a replaced record must lose: the old response, and an order it does not name."""
    fields = {"response": ""}
    if record.result_order is None:
        fields["resultOrder"] = ""
    return fields


def _record(doc: Mapping[str, Any]) -> IdempotencyRecord:
    stored = doc.get("response")
    response = None if stored is None else stored_response(stored)
    return IdempotencyRecord(
        scope=doc["scope"],
        key=doc["key"],
        fingerprint=doc["fingerprint"],
        state=KeyState(doc["state"]),
        lease_token=doc["leaseToken"],
        lease_expires_at=as_utc(doc["leaseExpiresAt"]),
        expires_at=as_utc(doc["expiresAt"]),
        response=response,
        result_order=doc.get("resultOrder"),
    )
