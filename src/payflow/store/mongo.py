"""The MongoDB store (motor): the only module that speaks to the driver.

Writes that must survive a `kill -9` (orders, idempotency records, events, receipts)
use a journaled write concern. Amounts are stored twice: `amount` as Decimal128
for people reading with mongosh, `amountMinor` as an integer for the database to
compare and sum (mongomock cannot do arithmetic on Decimal128).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bson import Binary, Decimal128
from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern
from pymongo.errors import DuplicateKeyError

from payflow.domain.money import from_minor, to_minor
from payflow.domain.orders import Order, OrderStatus
from payflow.store.base import (
    IdempotencyRecord,
    IdempotencyRef,
    Job,
    ListPage,
    OrderNumberTaken,
    PaymentApplied,
    Receipt,
    StoredResponse,
)
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

    Database = AsyncIOMotorDatabase[dict[str, Any]]
    Collection = AsyncIOMotorCollection[dict[str, Any]]

JOURNALED = WriteConcern(w=1, j=True)

QUEUED, PROCESSING, DONE, DEAD = "queued", "processing", "done", "dead"


class MongoStore:
    """All of payflow's collections in one database."""

    def __init__(self, database: Database, *, journaled: bool = True) -> None:
        self.database = database
        concern = JOURNALED if journaled else WriteConcern(w=1)
        self.idempotency = MongoIdempotencyStore(_coll(database, "idempotency", concern))
        self.orders = MongoOrderStore(_coll(database, "orders", concern))
        self.events = MongoEventStore(_coll(database, "events", concern))
        self.payments = MongoPaymentStore(_coll(database, "payments", concern))

    async def ensure_indexes(self) -> None:
        db = self.database
        await db.orders.create_index("orderNumber", unique=True)
        await db.orders.create_index(
            [("processing.state", ASCENDING), ("processing.dueAt", ASCENDING)]
        )
        await db.orders.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
        await db.idempotency.create_index([("scope", ASCENDING), ("key", ASCENDING)], unique=True)
        await db.idempotency.create_index("expiresAt", expireAfterSeconds=0)
        await db.events.create_index("orderNumber")
        await db.events.create_index("createdAt")
        await db.payments.create_index("orderNumber")
        await db.payments.create_index("eventKey")

    async def ping(self) -> None:
        await self.database.command("ping")


def _coll(database: Database, name: str, concern: WriteConcern) -> Collection:
    return database.get_collection(name, write_concern=concern)


# --- idempotency -----------------------------------------------------------------------------


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


# --- orders ----------------------------------------------------------------------------------

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
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = status.value
        if cursor is not None:
            created_at, order_id = decode_cursor(cursor)
            query["$or"] = [
                {"createdAt": {"$lt": created_at}},
                {"createdAt": created_at, "_id": {"$lt": order_id}},
            ]
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

    async def retry_processing(
        self, order_id: str, owner: str, due_at: datetime, error: str, dead: bool
    ) -> bool:
        result = await self.collection.update_one(
            {"_id": order_id, "processing.state": PROCESSING, "processing.owner": owner},
            {
                "$set": {
                    "processing.state": DEAD if dead else QUEUED,
                    "processing.dueAt": due_at,
                    "processing.lastError": error[:1024],
                },
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


def encode_cursor(created_at: datetime, order_id: str) -> str:
    raw = f"{int(created_at.timestamp() * 1000)}:{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InvalidCursor(ValueError):
    pass


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, order_id = raw.split(":", 1)
        return datetime.fromtimestamp(int(millis) / 1000, UTC), order_id
    except (ValueError, UnicodeDecodeError, OverflowError, OSError) as exc:
        raise InvalidCursor("cursor is not one payflow issued") from exc


# --- events and receipts ---------------------------------------------------------------------


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
            "body": Binary(body),
        }
        stored = await self.collection.find_one_and_update(
            {"_id": event_id},
            {"$setOnInsert": doc},
            upsert=True,
            projection={"body": 1},
            return_document=ReturnDocument.AFTER,
        )
        return bytes(stored["body"])


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
                **_bsonable(receipt.extra),
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


def _bsonable(value: Any) -> Any:
    """Decimals become Decimal128 so event bodies keep exact amounts in the database."""
    if isinstance(value, Decimal):
        return Decimal128(value)
    if isinstance(value, Mapping):
        return {str(k): _bsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bsonable(v) for v in value]
    return value
