"""Idempotency records: one per (scope, key), claimed by one upsert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bson import Binary
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from payflow.store.base import IdempotencyRecord, StoredResponse
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection


class MongoIdempotencyStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        # One round trip: the upsert inserts ours, or returns what was there before.
        for _ in range(2):
            try:
                before = await self.collection.find_one_and_update(
                    {"scope": record.scope, "key": record.key},
                    {"$setOnInsert": _record_doc(record)},
                    upsert=True,
                    return_document=ReturnDocument.BEFORE,
                )
            except DuplicateKeyError:
                # Two upserts raced on the unique index; the loser reads the winner's record.
                continue
            return None if before is None else _record(before)
        found = await self.collection.find_one({"scope": record.scope, "key": record.key})
        return None if found is None else _record(found)

    async def replace_if_token(self, expected_token: str, record: IdempotencyRecord) -> bool:
        result = await self.collection.update_one(
            {"scope": record.scope, "key": record.key, "leaseToken": expected_token},
            {"$set": _record_doc(record), "$unset": {"response": ""}},
        )
        return bool(result.modified_count == 1)

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> bool:
        result = await self.collection.update_one(
            {"scope": record.scope, "key": record.key, "leaseToken": record.lease_token},
            {
                "$set": {
                    "state": "completed",
                    "response": {
                        "status": response.status,
                        "headers": [[k, v] for k, v in response.headers.items()],
                        "body": Binary(response.body),
                    },
                }
            },
        )
        return bool(result.modified_count == 1)

    async def release(self, record: IdempotencyRecord) -> None:
        await self.collection.delete_one(
            {"scope": record.scope, "key": record.key, "leaseToken": record.lease_token}
        )


def _record_doc(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "scope": record.scope,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "state": record.state,
        "leaseToken": record.lease_token,
        "leaseExpiresAt": record.lease_expires_at,
        "expiresAt": record.expires_at,
    }


def _record(doc: Mapping[str, Any]) -> IdempotencyRecord:
    stored = doc.get("response")
    response = None
    if stored is not None:
        response = StoredResponse(
            status=int(stored["status"]),
            headers={str(k): str(v) for k, v in stored["headers"]},
            body=bytes(stored["body"]),
        )
    return IdempotencyRecord(
        scope=doc["scope"],
        key=doc["key"],
        fingerprint=doc["fingerprint"],
        state=doc["state"],
        lease_token=doc["leaseToken"],
        lease_expires_at=as_utc(doc["leaseExpiresAt"]),
        expires_at=as_utc(doc["expiresAt"]),
        response=response,
    )
