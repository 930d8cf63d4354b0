"""Refunds, each with the job that announces it (`refund.succeeded`) on the same document.

The refund was already counted on its order (`MongoOrderStore.add_refund`); this
document is the refund as the API shows it, and its `processing` job is how the
worker learns there is an event to emit. Writing both in one insert means a refund
that exists is always announced, by whichever process comes next.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from payflow.domain.money import from_minor, to_minor
from payflow.domain.refunds import Refund
from payflow.store.base import RefundJob
from payflow.store.mongo import jobs
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

_PROJECTION = {"processing": 0}


@translating_outages
class MongoRefundStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def create(self, refund: Refund) -> Refund:
        # An insert on the refund's own (deterministic) id: a re-run after a crash finds
        # the refund it wrote before and returns it unchanged. A plain insert, not an
        # upsert: the embedded server can answer concurrent upserts inconsistently.
        doc = _refund_doc(refund)
        doc["processing"] = jobs.queued(refund.created_at)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            stored = await self.collection.find_one({"_id": refund.id}, _PROJECTION)
            if stored is not None:
                return _refund(stored)
            raise
        return refund

    async def get(self, refund_id: str, order_id: str) -> Refund | None:
        doc = await self.collection.find_one({"_id": refund_id, "orderId": order_id}, _PROJECTION)
        return None if doc is None else _refund(doc)

    async def for_order(self, order_id: str, limit: int) -> list[Refund]:
        found = self.collection.find({"orderId": order_id}, _PROJECTION).sort(
            [("createdAt", ASCENDING), ("_id", ASCENDING)]
        )
        return [_refund(doc) for doc in await found.to_list(limit)]

    async def claim_processing(
        self, refund_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> RefundJob | None:
        # `jobs.claimable`, tried in turn: which one matched says whether a dead holder's
        # lease was taken over. The document
        # after the claim, as for orders: the embedded server's pre-image can be stale.
        for took_over, claimable in zip((False, True), jobs.claimable(now), strict=True):
            doc = await self.collection.find_one_and_update(
                {"_id": refund_id, **claimable},
                {"$set": jobs.lease(owner, lease_until), "$inc": {"processing.attempts": 1}},
                return_document=ReturnDocument.AFTER,  # with `processing`: its attempts count
            )
            if doc is not None:
                attempts = int(doc["processing"]["attempts"])
                return RefundJob(_refund(doc), attempts=attempts, took_over=took_over)
        return None

    async def finish_processing(self, refund_id: str, owner: str, now: datetime) -> bool:
        result = await self.collection.update_one(
            {"_id": refund_id, **jobs.held_by(owner)},
            jobs.finished(now),
        )
        return bool(result.modified_count == 1)

    async def due_for_processing(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        return await jobs.due(self.collection, now, limit)

    async def release_leases(self, owner: str, now: datetime) -> int:
        return await jobs.release_leases(self.collection, owner, now)


def _refund_doc(refund: Refund) -> dict[str, Any]:
    return {
        "_id": refund.id,
        "orderId": refund.order_id,
        "orderNumber": refund.order_number,
        "amount": Decimal128(refund.amount),
        "amountMinor": to_minor(refund.amount, refund.currency),
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "scope": refund.scope,
        "createdAt": refund.created_at,
    }


def _refund(doc: Mapping[str, Any]) -> Refund:
    return Refund(
        id=doc["_id"],
        order_id=doc["orderId"],
        order_number=doc["orderNumber"],
        amount=from_minor(int(doc["amountMinor"]), doc["currency"]),
        currency=doc["currency"],
        created_at=as_utc(doc["createdAt"]),
        reason=doc.get("reason"),
        status=doc["status"],
        scope=doc.get("scope"),
    )
