"""Saved payment methods (`payment_methods`), and duplicate detection on attach.

A method attached to a customer carries `attachedKey` = `<customer>:<fingerprint>`,
and a unique sparse index on that field lets one customer hold a card once: attaching
is one update of the method that sets the key, refused by the index when the customer
already has the card. Detaching removes the key (and the customer) for good, so the
card can be saved and attached again as a new method. A sparse single-field index,
rather than a partial compound one, because mongomock and the embedded server both
enforce it (tests/integration/test_payment_method_store.py).

The per-installation fingerprint key lives in `installation` (`_id` "cardFingerprintKey"):
made once by whichever process asks first, an insert that only one can win.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from payflow.domain.cards import CardDetails
from payflow.domain.saved_methods import SavedPaymentMethod
from payflow.store.base import (
    PaymentMethodAttached,
    PaymentMethodDetached,
    PaymentMethodDuplicate,
    PaymentMethodNotFound,
)
from payflow.store.mongo.common import newest_first
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

FINGERPRINT_KEY_ID = "cardFingerprintKey"
_PROJECTION = {"attachedKey": 0}


# Updates then reads, never `find_one_and_update`: the embedded server scans the whole
# collection for a findAndModify (store/mongo/wallets.py).


@translating_outages
class MongoPaymentMethodStore:
    def __init__(self, collection: Collection, installation: Collection) -> None:
        self.collection = collection
        self.installation = installation

    async def insert(self, method: SavedPaymentMethod) -> SavedPaymentMethod:
        doc = _method_doc(method)
        if method.customer is not None:
            doc["attachedKey"] = attached_key(method.customer, method.card.fingerprint)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            # A re-run finds its own method; otherwise the customer has the card already.
            stored = await self.collection.find_one({"_id": method.id}, _PROJECTION)
            if stored is not None:
                return _method(stored)
            holder = await self._holder(doc["attachedKey"])
            if holder is None:  # detached in between: try again
                return await self.insert(method)
            raise PaymentMethodDuplicate(holder) from None
        return method

    async def get(self, method_id: str, scope: str | None = None) -> SavedPaymentMethod | None:
        doc = await self.collection.find_one(_by_id(method_id, scope), _PROJECTION)
        return None if doc is None else _method(doc)

    async def for_customer(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[SavedPaymentMethod], str | None]:
        query = {"customer": customer_id}
        docs, next_cursor = await newest_first(self.collection, query, limit, cursor, _PROJECTION)
        return [_method(doc) for doc in docs], next_cursor

    async def attach(
        self, method_id: str, customer_id: str, now: datetime, scope: str | None = None
    ) -> SavedPaymentMethod:
        stored = await self._existing(method_id, scope)
        method = _method(stored)
        if method.customer == customer_id:
            return method  # attached already: a re-run, or Stripe's no-op
        if method.customer is not None:
            raise PaymentMethodAttached(method.customer)
        key = attached_key(customer_id, method.card.fingerprint)
        try:
            await self.collection.update_one(
                {**_by_id(method_id, scope), "customer": None, "detachedAt": None},
                {"$set": {"customer": customer_id, "attachedKey": key, "attachedAt": now}},
            )
        except DuplicateKeyError:
            holder = await self._holder(key)
            if holder is None:  # detached in between: try again
                return await self.attach(method_id, customer_id, now, scope)
            raise PaymentMethodDuplicate(holder) from None
        # Attached now, or detached or attached elsewhere meanwhile: the next turn says which.
        return await self.attach(method_id, customer_id, now, scope)

    async def detach(
        self, method_id: str, now: datetime, scope: str | None = None
    ) -> SavedPaymentMethod:
        result = await self.collection.update_one(
            {**_by_id(method_id, scope), "detachedAt": None},
            {"$set": {"customer": None, "detachedAt": now}, "$unset": {"attachedKey": ""}},
        )
        doc = await self.collection.find_one(_by_id(method_id, scope), _PROJECTION)
        if doc is None:
            raise PaymentMethodNotFound(method_id)
        if result.modified_count == 0:
            raise PaymentMethodDetached(method_id)
        return _method(doc)

    async def fingerprint_key(self) -> bytes:
        with contextlib.suppress(DuplicateKeyError):
            await self.installation.insert_one(
                {"_id": FINGERPRINT_KEY_ID, "key": secrets.token_bytes(32)}
            )
        doc = await self.installation.find_one({"_id": FINGERPRINT_KEY_ID})
        if doc is None:  # pragma: no cover - inserted above, or by whoever won the insert
            raise LookupError("the card fingerprint key is missing")
        return bytes(doc["key"])

    async def _existing(self, method_id: str, scope: str | None) -> dict[str, Any]:
        """The stored method, usable for attaching; raises when absent or detached."""
        stored = await self.collection.find_one(_by_id(method_id, scope), _PROJECTION)
        if stored is None:
            raise PaymentMethodNotFound(method_id)
        if stored.get("detachedAt") is not None:
            raise PaymentMethodDetached(method_id)
        return dict(stored)

    async def _holder(self, key: str) -> str | None:
        """The method attached under `key` (customer and fingerprint), if any."""
        holder = await self.collection.find_one({"attachedKey": key}, {"_id": 1})
        return None if holder is None else str(holder["_id"])


def attached_key(customer_id: str, fingerprint: str) -> str:
    return f"{customer_id}:{fingerprint}"


def _by_id(method_id: str, scope: str | None) -> dict[str, Any]:
    return {"_id": method_id} if scope is None else {"_id": method_id, "scope": scope}


def _method_doc(method: SavedPaymentMethod) -> dict[str, Any]:
    card = method.card
    return {
        "_id": method.id,
        "type": method.type,
        "card": {
            "brand": card.brand,
            "last4": card.last4,
            "expMonth": card.exp_month,
            "expYear": card.exp_year,
            "funding": card.funding,
            "fingerprint": card.fingerprint,
            "failureCode": card.failure_code,
        },
        "customer": method.customer,
        "billingDetails": dict(method.billing_details),
        "detachedAt": method.detached_at,
        "scope": method.scope,
        "createdAt": method.created_at,
    }


def _method(doc: Mapping[str, Any]) -> SavedPaymentMethod:
    card = doc["card"]
    detached_at = doc.get("detachedAt")
    return SavedPaymentMethod(
        id=doc["_id"],
        card=CardDetails(
            brand=card["brand"],
            last4=card["last4"],
            exp_month=int(card["expMonth"]),
            exp_year=int(card["expYear"]),
            funding=card["funding"],
            fingerprint=card["fingerprint"],
            failure_code=card.get("failureCode"),
        ),
        created_at=as_utc(doc["createdAt"]),
        customer=doc.get("customer"),
        billing_details=dict(doc.get("billingDetails") or {}),
        detached_at=None if detached_at is None else as_utc(detached_at),
        scope=doc.get("scope"),
        type=doc.get("type", "card"),
    )
