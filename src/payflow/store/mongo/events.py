"""Events the gateway emitted, and receipts of webhooks received (the audit trail)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from payflow.domain.orders import Order
from payflow.store.base import Receipt, StoredEvent
from payflow.store.mongo.batching import Batcher, insert_each
from payflow.store.mongo.common import after_cursor, bsonable, encode_cursor
from payflow.store.mongo.journal import staged
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.journal import JournalBarrier
    from payflow.store.mongo.motor_types import Collection

_readable = msgspec.json.Decoder(float_hook=Decimal)


@translating_outages
class MongoEventStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.staged = staged(collection)
        self._saves: Batcher[dict[str, Any], bytes] = Batcher(self._save_each)

    async def save(
        self,
        event_id: str,
        body: bytes,
        event_type: str,
        order_number: str,
        created_at: datetime,
        scope: str | None = None,
    ) -> bytes:
        doc = {
            "type": event_type,
            "orderNumber": order_number,
            "scope": scope,
            "createdAt": created_at,
            "body": Binary(body),  # the exact bytes sent and signed
            "payload": bsonable(_readable.decode(body)),  # the same, readable in mongosh
        }
        # Journaled (no webhook names an event a crash could still lose; the job's claim
        # before it is made durable with it), batched with the saves of concurrent jobs.
        return await self._saves.submit({"_id": event_id, **doc})

    async def _save_each(self, docs: list[dict[str, Any]]) -> list[bytes]:
        """Insert each event; where one exists (a re-run), its stored bytes win."""
        inserted = await insert_each(self.collection, docs)
        existing = [doc["_id"] for doc, new in zip(docs, inserted, strict=True) if not new]
        stored: dict[str, bytes] = {}
        if existing:
            found = self.collection.find({"_id": {"$in": existing}}, {"body": 1})
            stored = {doc["_id"]: bytes(doc["body"]) async for doc in found}
        return [
            bytes(doc["body"]) if new else stored[doc["_id"]]
            for doc, new in zip(docs, inserted, strict=True)
        ]

    async def get(self, event_id: str, scope: str | None = None) -> StoredEvent | None:
        query: dict[str, Any] = {"_id": event_id}
        if scope is not None:
            query["scope"] = scope
        doc = await self.collection.find_one(query, {"payload": 0})
        return None if doc is None else _event(doc)

    async def page(
        self,
        event_type: str | None,
        order_number: str | None,
        limit: int,
        cursor: str | None,
        scope: str | None = None,
    ) -> tuple[list[StoredEvent], str | None]:
        query: dict[str, Any] = after_cursor(cursor, "createdAt")
        if scope is not None:
            query["scope"] = scope
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


@translating_outages
class MongoPaymentStore:
    def __init__(self, collection: Collection, journal: JournalBarrier | None = None) -> None:
        self.collection = collection
        self.journal = journal
        self._inserts: Batcher[dict[str, Any], bool] = Batcher(
            lambda docs: insert_each(self.collection, docs)
        )

    async def record(self, receipt: Receipt) -> bool:
        """Write the receipt journaled (batched with concurrent receivers'): the last write
        of the receiver's flow, whose journal flush makes the order's update before it
        durable too, before its 200; False if this receipt id exists."""
        doc = self._doc(receipt)
        if self.journal is None:
            try:
                await self.collection.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        inserted = await self._inserts.submit(doc)
        if not inserted:
            await self.journal.sync()  # the flow's earlier writes need it
        return inserted

    @staticmethod
    def _doc(receipt: Receipt) -> dict[str, Any]:
        return {
            "_id": receipt.id,
            "receivedAt": receipt.received_at,
            "outcome": receipt.outcome,
            "eventKey": receipt.event_key,
            "eventId": receipt.event_id,
            "eventType": receipt.event_type,
            "orderNumber": receipt.order_number,
            "orderId": receipt.order_id,
            "scheme": receipt.scheme,
            "detail": receipt.detail,
            **bsonable(receipt.extra),
        }

    async def for_order(self, order: Order, limit: int) -> list[Receipt]:
        # Another scope's order of the same number has receipts with its own orderId.
        query = {"orderNumber": order.order_number, "orderId": {"$in": [order.id, None]}}
        found = self.collection.find(query).sort([("receivedAt", ASCENDING), ("_id", ASCENDING)])
        return [
            Receipt(
                id=doc["_id"],
                received_at=as_utc(doc["receivedAt"]),
                outcome=doc["outcome"],
                event_key=doc.get("eventKey"),
                event_id=doc.get("eventId"),
                event_type=doc.get("eventType"),
                order_number=doc.get("orderNumber"),
                order_id=doc.get("orderId"),
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
