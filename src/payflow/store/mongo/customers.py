"""Customers (`customers`): one document each, with the snapshot of its wallet.

The wallet itself is the customer's ledger (store/mongo/wallets.py); the document keeps
`wallet` = {seq, balances}, the balance after ledger entry `seq`, so that reading a
customer costs no sum. A customer is inserted with an empty wallet, and its opening
balances are credited next as ordinary ledger entries (`adjustment`), so the wallet
equals the sum of its ledger from the first moment on; a re-run of the create finds
the customer and credits whatever the first run did not get to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from payflow.domain.customers import Customer
from payflow.domain.wallets import Movement
from payflow.store.mongo.common import newest_first
from payflow.store.mongo.outages import translating_outages
from payflow.store.mongo.wallets import Head, MongoWalletStore, snapshot_head, wallet_doc
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection


@translating_outages
class MongoCustomerStore:
    def __init__(self, collection: Collection, wallets: MongoWalletStore) -> None:
        self.collection = collection
        self.wallets = wallets

    async def insert(self, customer: Customer, opening: Sequence[Movement]) -> Customer:
        # A re-run finds the customer there; its credits may not all be.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(_customer_doc(customer))
        if opening:
            await self.wallets.apply(customer.id, opening, customer.created_at)
        stored = await self.get(customer.id)
        if stored is None:  # pragma: no cover - inserted above
            raise LookupError(customer.id)
        return stored

    async def get(self, customer_id: str, scope: str | None = None) -> Customer | None:
        query: dict[str, Any] = {"_id": customer_id}
        if scope is not None:
            query["scope"] = scope
        doc = await self.collection.find_one(query)
        if doc is None:
            return None
        return _customer(doc, await self.wallets.caught_up(customer_id, doc.get("wallet")))

    async def page(
        self, limit: int, cursor: str | None, scope: str | None = None
    ) -> tuple[list[Customer], str | None]:
        """Balances as of each snapshot: behind the ledger only just after a crash, until
        the customer is next read or moved."""
        query: dict[str, Any] = {} if scope is None else {"scope": scope}
        docs, next_cursor = await newest_first(self.collection, query, limit, cursor)
        return [_customer(doc, None) for doc in docs], next_cursor


def _customer_doc(customer: Customer) -> dict[str, Any]:
    return {
        "_id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "metadata": dict(customer.metadata),
        "scope": customer.scope,
        "createdAt": customer.created_at,
        "wallet": wallet_doc(Head()),
    }


def _customer(doc: Mapping[str, Any], head: Head | None) -> Customer:
    if head is None:
        head = snapshot_head(doc.get("wallet") or {})
    return Customer(
        id=doc["_id"],
        created_at=as_utc(doc["createdAt"]),
        name=doc.get("name"),
        email=doc.get("email"),
        metadata=dict(doc.get("metadata") or {}),
        balances=tuple(head.balances[c] for c in sorted(head.balances)),
        scope=doc.get("scope"),
    )
