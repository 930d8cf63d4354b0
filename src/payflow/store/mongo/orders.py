"""Orders, and the payment job that lives on each order document (`processing`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from payflow.domain.money import from_minor, to_minor
from payflow.domain.orders import Order, OrderStatus
from payflow.store.base import IdempotencyRef, Job, ListPage, OrderNumberTaken, PaymentApplied
from payflow.store.mongo.common import after_cursor, encode_cursor
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

QUEUED, PROCESSING, DONE = "queued", "processing", "done"

_ORDER_PROJECTION = {"processing": 0, "idempotency": 0}


class MongoOrderStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def insert(self, order: Order, ref: IdempotencyRef | None, due_at: datetime) -> None:
        doc = _order_doc(order)
        if ref is not None:
            doc["idempotency"] = {
                "scope": ref.scope,
                "key": ref.key,
                "fingerprint": ref.fingerprint,
            }
        # The payment job lives on the order: creating and enqueueing is one atomic insert.
        doc["processing"] = {"state": QUEUED, "dueAt": due_at, "attempts": 0}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise OrderNumberTaken(order.order_number) from exc

    async def get(self, order_number: str) -> Order | None:
        doc = await self.collection.find_one({"orderNumber": order_number}, _ORDER_PROJECTION)
        return None if doc is None else _order(doc)

    async def get_with_ref(self, order_number: str) -> tuple[Order, IdempotencyRef | None] | None:
        doc = await self.collection.find_one({"orderNumber": order_number}, {"processing": 0})
        if doc is None:
            return None
        ref = doc.get("idempotency")
        return _order(doc), (
            None if ref is None else IdempotencyRef(ref["scope"], ref["key"], ref["fingerprint"])
        )

    async def page(self, status: OrderStatus | None, limit: int, cursor: str | None) -> ListPage:
        query: dict[str, Any] = after_cursor(cursor, "createdAt")
        if status is not None:
            query["status"] = status.value
        found = self.collection.find(query, _ORDER_PROJECTION)
        docs = await found.sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).to_list(limit + 1)
        orders = [_order(doc) for doc in docs[:limit]]
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor(as_utc(last["createdAt"]), last["_id"])
        return ListPage(orders, next_cursor)

    async def apply_payment(
        self,
        order_number: str,
        currency: str,
        amount_minor: int,
        target: OrderStatus,
        event_key: str,
        now: datetime,
        failure_code: str | None,
        failure_message: str | None,
    ) -> PaymentApplied:
        update: dict[str, Any] = {
            "status": target.value,
            "updatedAt": now,
            "appliedEventKey": event_key,
        }
        if target is OrderStatus.PAID:
            update["paidAt"] = now
        else:
            update["failureCode"] = failure_code
            update["failureMessage"] = failure_message
        doc = await self.collection.find_one_and_update(
            {
                "orderNumber": order_number,
                "status": OrderStatus.PENDING.value,
                "currency": currency,
                "amountMinor": amount_minor,
            },
            {"$set": update},
            projection={"processing": 0, "idempotency": 0},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return PaymentApplied(applied=True, order=_order(doc), applied_event_key=event_key)
        doc = await self.collection.find_one({"orderNumber": order_number}, _ORDER_PROJECTION)
        if doc is None:
            return PaymentApplied(applied=False)
        return PaymentApplied(
            applied=False, order=_order(doc), applied_event_key=doc.get("appliedEventKey")
        )

    async def claim_processing(
        self, order_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        doc = await self.collection.find_one_and_update(
            {
                "_id": order_id,
                "$or": [
                    {"processing.state": QUEUED, "processing.dueAt": {"$lte": now}},
                    {"processing.state": PROCESSING, "processing.leaseExpiresAt": {"$lte": now}},
                ],
            },
            {
                "$set": {
                    "processing.state": PROCESSING,
                    "processing.owner": owner,
                    "processing.leaseExpiresAt": lease_until,
                },
                "$inc": {"processing.attempts": 1},
            },
            projection={"idempotency": 0},
            return_document=ReturnDocument.BEFORE,
        )
        if doc is None:
            return None
        before = doc["processing"]
        return Job(
            order=_order(doc),
            attempts=int(before.get("attempts", 0)) + 1,
            took_over=before.get("state") == PROCESSING,
        )

    async def finish_processing(self, order_id: str, owner: str, now: datetime) -> bool:
        result = await self.collection.update_one(
            {"_id": order_id, "processing.state": PROCESSING, "processing.owner": owner},
            {
                "$set": {"processing.state": DONE, "processing.doneAt": now},
                "$unset": {"processing.owner": "", "processing.leaseExpiresAt": ""},
            },
        )
        return bool(result.modified_count == 1)

    async def due_for_processing(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        found = self.collection.find(
            {
                "$or": [
                    {"processing.state": QUEUED, "processing.dueAt": {"$lte": now}},
                    {"processing.state": PROCESSING, "processing.leaseExpiresAt": {"$lte": now}},
                ]
            },
            {"processing.dueAt": 1},
        ).limit(limit)
        return [(doc["_id"], as_utc(doc["processing"]["dueAt"])) async for doc in found]

    async def release_leases(self, owner: str, now: datetime) -> int:
        result = await self.collection.update_many(
            {"processing.state": PROCESSING, "processing.owner": owner},
            {
                "$set": {"processing.state": QUEUED, "processing.dueAt": now},
                "$unset": {"processing.owner": "", "processing.leaseExpiresAt": ""},
            },
        )
        return int(result.modified_count)


def _order_doc(order: Order) -> dict[str, Any]:
    return {
        "_id": order.id,
        "orderNumber": order.order_number,
        "amount": Decimal128(order.amount),
        "amountMinor": to_minor(order.amount, order.currency),
        "currency": order.currency,
        "status": order.status.value,
        "paymentMethod": order.payment_method,
        "metadata": dict(order.metadata),
        "createdAt": order.created_at,
        "updatedAt": order.updated_at,
        "paidAt": order.paid_at,
        "failureCode": order.failure_code,
        "failureMessage": order.failure_message,
    }


def _order(doc: Mapping[str, Any]) -> Order:
    paid_at = doc.get("paidAt")
    return Order(
        id=doc["_id"],
        order_number=doc["orderNumber"],
        amount=from_minor(int(doc["amountMinor"]), doc["currency"]),
        currency=doc["currency"],
        status=OrderStatus(doc["status"]),
        payment_method=doc["paymentMethod"],
        created_at=as_utc(doc["createdAt"]),
        updated_at=as_utc(doc["updatedAt"]),
        paid_at=None if paid_at is None else as_utc(paid_at),
        failure_code=doc.get("failureCode"),
        failure_message=doc.get("failureMessage"),
        metadata=dict(doc.get("metadata") or {}),
    )
