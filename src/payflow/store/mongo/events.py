"""Events the gateway emitted, and receipts of webhooks received (the audit trail)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from bson import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from payflow.store.base import Receipt, StoredEvent
from payflow.store.mongo.common import after_cursor, bsonable, encode_cursor
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

_readable = msgspec.json.Decoder(float_hook=Decimal)


class MongoEventStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def save(
        self, event_id: str, body: bytes, event_type: str, order_number: str, created_at: datetime
    ) -> bytes:
        doc = {
            "type": event_type,
            "orderNumber": order_number,
            "createdAt": created_at,
            "body": Binary(body),  # the exact bytes sent and signed
            "payload": bsonable(_readable.decode(body)),  # the same, readable in mongosh
        }
        stored = await self.collection.find_one_and_update(
            {"_id": event_id},
            {"$setOnInsert": doc},
            upsert=True,
            projection={"body": 1},
            return_document=ReturnDocument.AFTER,
        )
        return bytes(stored["body"])

    async def get(self, event_id: str) -> StoredEvent | None:
        doc = await self.collection.find_one({"_id": event_id}, {"payload": 0})
        return None if doc is None else _event(doc)

    async def page(
        self, event_type: str | None, order_number: str | None, limit: int, cursor: str | None
    ) -> tuple[list[StoredEvent], str | None]:
        query: dict[str, Any] = after_cursor(cursor, "createdAt")
        if event_type is not None:
            query["type"] = event_type
        if order_number is not None:
            query["orderNumber"] = order_number
        found = self.collection.find(query, {"payload": 0}).sort(
            [("createdAt", DESCENDING), ("_id", DESCENDING)]
        )
        docs = await found.to_list(limit + 1)
        events = [_event(doc) for doc in docs[:limit]]
        next_cursor = None
        if len(docs) > limit:
            next_cursor = encode_cursor(events[-1].created_at, events[-1].id)
        return events, next_cursor


def _event(doc: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=doc["_id"],
        type=doc["type"],
        order_number=doc["orderNumber"],
        created_at=as_utc(doc["createdAt"]),
        body=bytes(doc["body"]),
    )


class MongoPaymentStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def record(self, receipt: Receipt) -> None:
        await self.collection.insert_one(
            {
                "_id": receipt.id,
                "receivedAt": receipt.received_at,
                "outcome": receipt.outcome,
                "eventKey": receipt.event_key,
                "eventId": receipt.event_id,
                "eventType": receipt.event_type,
                "orderNumber": receipt.order_number,
                "scheme": receipt.scheme,
                "detail": receipt.detail,
                **bsonable(receipt.extra),
            }
        )

    async def for_order(self, order_number: str, limit: int) -> list[Receipt]:
        found = self.collection.find({"orderNumber": order_number}).sort(
            [("receivedAt", ASCENDING), ("_id", ASCENDING)]
        )
        return [
            Receipt(
                id=doc["_id"],
                received_at=as_utc(doc["receivedAt"]),
                outcome=doc["outcome"],
                event_key=doc.get("eventKey"),
                event_id=doc.get("eventId"),
                event_type=doc.get("eventType"),
                order_number=doc.get("orderNumber"),
                scheme=doc.get("scheme"),
                detail=doc.get("detail"),
            )
            for doc in await found.to_list(limit)
        ]

    async def seen(self, event_key: str) -> bool:
        doc = await self.collection.find_one(
            {"eventKey": event_key, "outcome": "applied"}, {"_id": 1}
        )
        return doc is not None
