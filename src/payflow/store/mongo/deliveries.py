"""Deliveries: one per (event, endpoint), each a small job with a lease and an attempt log.

A delivery carries the exact event bytes it sends, so an attempt needs no other
read. It is recorded once its first attempt is made (by the order job, which holds the
order's lease meanwhile), already in the state that attempt leads to. States after that:
pending (retry later) → processing (leased) → succeeded | pending | dead.

A delivery held back by its endpoint's circuit is *parked*: pending with no
`nextAttemptAt`, so the poller never finds it (its index entry is `(pending, null)`);
the holder of the endpoint's recovery lease takes parked deliveries oldest event first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from payflow.domain.deliveries import TERMINAL_DELIVERY_STATES, DeliveryState
from payflow.store.base import Attempt, Delivery
from payflow.store.mongo.batching import Batcher, insert_each, update_each
from payflow.store.mongo.common import after_cursor, encode_cursor
from payflow.store.mongo.journal import staged, update_durably
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.journal import JournalBarrier
    from payflow.store.mongo.motor_types import Collection

LOG_LIMIT = 50  # attempts kept on the document, newest last


@translating_outages
class MongoDeliveryStore:
    def __init__(self, collection: Collection, journal: JournalBarrier | None = None) -> None:
        self.collection = collection
        self.staged = staged(collection)
        self.journal = journal
        self._inserts: Batcher[dict[str, Any], bool] = Batcher(
            lambda docs: insert_each(self.staged, docs)
        )
        self._updates: Batcher[tuple[dict[str, Any], dict[str, Any]], bool] = Batcher(
            lambda items: update_each(self.staged, items)
        )

    async def insert_attempted(
        self,
        delivery: Delivery,
        attempt: Attempt,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record a delivery with its first attempt, made before this write; False if it
        exists (another run of the same order job recorded its own first attempt first).

        One insert where a delivery used to cost an insert before the attempt and an
        update after it (on the embedded server an update costs about three inserts)."""
        doc = _delivery_doc(delivery)
        doc.update(_outcome(attempt, state, next_attempt_at))
        doc.update(attempts=1, log=[_attempt_doc(attempt)])
        # Staged (then `finish_processing`), batched with concurrent jobs' deliveries.
        return await self._inserts.submit(doc)

    async def claim(
        self, delivery_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Delivery | None:
        # Tried in turn, never one `$or`, which would make the claim a collection scan on
        # servers that then skip the `_id` index (the embedded one among them).
        for claimable in _claimable(now):
            doc = await self.collection.find_one_and_update(
                {"_id": delivery_id, **claimable},
                {
                    "$set": {
                        "state": DeliveryState.PROCESSING,
                        "owner": owner,
                        "leaseExpiresAt": lease_until,
                    }
                },
                projection={"log": 0},
                return_document=ReturnDocument.BEFORE,
            )
            if doc is not None:
                break
        else:
            return None
        took_over = doc["state"] == DeliveryState.PROCESSING
        return _delivery(doc, took_over=took_over)

    async def record_attempt(
        self,
        delivery_id: str,
        owner: str,
        attempt: Attempt,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Log an attempt and move the state, if `owner` still holds the lease."""
        update: dict[str, Any] = {
            "$set": _outcome(attempt, state, next_attempt_at),
            "$unset": {"owner": "", "leaseExpiresAt": ""},
            "$inc": {"attempts": 1},
            "$push": {"log": {"$each": [_attempt_doc(attempt)], "$slice": -LOG_LIMIT}},
        }
        # The last step of a delivery: durable before this returns (the shared journal
        # flush), batched with concurrent deliveries' attempts.
        return await update_durably(
            self.collection,
            self.journal,
            self._updates,
            {"_id": delivery_id, "owner": owner},
            update,
        )

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self.collection.find_one({"_id": delivery_id})
        return None if doc is None else _delivery(doc)

    async def for_event(self, event_id: str) -> list[Delivery]:
        found = self.collection.find({"eventId": event_id}).sort(
            [("createdAt", ASCENDING), ("_id", ASCENDING)]
        )
        return [_delivery(doc) for doc in await found.to_list(100)]

    async def for_endpoint(
        self, endpoint_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        query = {"endpointId": endpoint_id, **after_cursor(cursor, "createdAt")}
        found = self.collection.find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
        docs = await found.to_list(limit + 1)
        deliveries = [_delivery(doc) for doc in docs[:limit]]
        next_cursor = None
        if len(docs) > limit:
            next_cursor = encode_cursor(deliveries[-1].created_at, deliveries[-1].id)
        return deliveries, next_cursor

    async def redeliver(self, delivery_id: str, now: datetime) -> Delivery | None:
        """Queue a finished (dead or succeeded) delivery again; None if unknown or in flight."""
        doc = await self.collection.find_one_and_update(
            {"_id": delivery_id, "state": {"$in": sorted(TERMINAL_DELIVERY_STATES)}},
            {
                "$set": {"state": DeliveryState.PENDING, "nextAttemptAt": now, "updatedAt": now},
                "$inc": {"redeliveries": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _delivery(doc)

    async def insert_waiting(self, delivery: Delivery) -> bool:
        """Record a delivery that has had no attempt: due later (chaos), or parked."""
        return await self._inserts.submit(_delivery_doc(delivery))

    async def park(self, delivery_id: str, owner: str, now: datetime) -> bool:
        result = await self.collection.update_one(
            {"_id": delivery_id, "owner": owner},
            {
                "$set": {"state": DeliveryState.PENDING, "nextAttemptAt": None, "updatedAt": now},
                "$unset": {"owner": "", "leaseExpiresAt": ""},
            },
        )
        return bool(result.modified_count == 1)

    async def claim_oldest_parked(
        self, endpoint_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Delivery | None:
        # Sorted by the time its event was emitted; ties (one millisecond) by id.
        doc = await self.collection.find_one_and_update(
            {"state": DeliveryState.PENDING, "nextAttemptAt": None, "endpointId": endpoint_id},
            {
                "$set": {
                    "state": DeliveryState.PROCESSING,
                    "owner": owner,
                    "leaseExpiresAt": lease_until,
                }
            },
            sort=[("createdAt", ASCENDING), ("_id", ASCENDING)],
            projection={"log": 0},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _delivery(doc)

    async def unpark(self, endpoint_ids: Sequence[str], now: datetime) -> int:
        if not endpoint_ids:
            return 0
        result = await self.collection.update_many(
            {
                "state": DeliveryState.PENDING,
                "nextAttemptAt": None,
                "endpointId": {"$in": list(endpoint_ids)},
            },
            {"$set": {"nextAttemptAt": now, "updatedAt": now}},
        )
        return int(result.modified_count)

    async def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        due: list[tuple[str, datetime]] = []
        for claimable in _claimable(now):  # one indexed query each (see `claim` on `$or`)
            if len(due) >= limit:
                break
            found = self.collection.find(claimable, {"nextAttemptAt": 1, "leaseExpiresAt": 1})
            due += [
                (doc["_id"], as_utc(doc.get("nextAttemptAt") or doc.get("leaseExpiresAt") or now))
                async for doc in found.limit(limit - len(due))
            ]
        return due

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Hand back this process's unfinished deliveries so anyone can take them at once."""
        result = await self.collection.update_many(
            {"state": DeliveryState.PROCESSING, "owner": owner},
            {
                "$set": {"state": DeliveryState.PENDING, "nextAttemptAt": now},
                "$unset": {"owner": "", "leaseExpiresAt": ""},
            },
        )
        return int(result.modified_count)


def _claimable(now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A delivery can be taken when due for an attempt, or when its holder's lease expired."""
    return (
        {"state": DeliveryState.PENDING, "nextAttemptAt": {"$lte": now}},
        {"state": DeliveryState.PROCESSING, "leaseExpiresAt": {"$lte": now}},
    )


def _delivery_doc(delivery: Delivery) -> dict[str, Any]:
    return {
        "_id": delivery.id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "orderNumber": delivery.order_number,
        "endpointId": delivery.endpoint_id,
        "url": delivery.url,
        "body": Binary(delivery.body),
        "state": delivery.state,
        "attempts": delivery.attempts,
        "nextAttemptAt": delivery.next_attempt_at,
        "createdAt": delivery.created_at,
        "updatedAt": delivery.created_at,
    }


def _outcome(
    attempt: Attempt, state: DeliveryState, next_attempt_at: datetime | None
) -> dict[str, Any]:
    """The fields an attempt sets: the state it leads to, when to try again, when delivered."""
    fields: dict[str, Any] = {
        "state": state,
        "nextAttemptAt": next_attempt_at,
        "updatedAt": attempt.at,
    }
    if state == DeliveryState.SUCCEEDED:
        fields["deliveredAt"] = attempt.at
    return fields


def _attempt_doc(attempt: Attempt) -> dict[str, Any]:
    return {
        "at": attempt.at,
        "attempt": attempt.number,
        "statusCode": attempt.status_code,
        "latencyMs": attempt.latency_ms,
        "error": attempt.error,
        "response": attempt.response_excerpt,
    }


def _delivery(doc: Mapping[str, Any], *, took_over: bool = False) -> Delivery:
    next_at = doc.get("nextAttemptAt")
    delivered = doc.get("deliveredAt")
    return Delivery(
        id=doc["_id"],
        event_id=doc["eventId"],
        event_type=doc["eventType"],
        order_number=doc["orderNumber"],
        endpoint_id=doc["endpointId"],
        url=doc["url"],
        body=bytes(doc["body"]),
        state=DeliveryState(doc["state"]),
        attempts=int(doc.get("attempts", 0)),
        next_attempt_at=None if next_at is None else as_utc(next_at),
        created_at=as_utc(doc["createdAt"]),
        delivered_at=None if delivered is None else as_utc(delivered),
        took_over=took_over,
        log=[
            Attempt(
                at=as_utc(entry["at"]),
                number=int(entry["attempt"]),
                status_code=entry.get("statusCode"),
                latency_ms=float(entry.get("latencyMs") or 0.0),
                error=entry.get("error"),
                response_excerpt=entry.get("response") or "",
            )
            for entry in doc.get("log", [])
        ],
    )
