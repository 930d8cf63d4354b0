"""Customers (`customers`): one document each, the wallet on it (store/mongo/wallets.py).

A customer created with opening balances is inserted with its wallet already holding
them, as applied ledger entries: one insert, so a customer never exists without its
money or its money without its entries' ids; the entries themselves are written next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from payflow.domain.customers import Customer
from payflow.domain.wallets import Balance, Movement, entries_for, replay
from payflow.store.mongo.common import newest_first
from payflow.store.mongo.wallets import (
    MongoWalletStore,
    balance_field,
    recorded_entries,
    window_doc,
)
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

_PROJECTION = {"applied": 0}


class MongoCustomerStore:
    def __init__(self, collection: Collection, wallets: MongoWalletStore) -> None:
        self.collection = collection
        self.wallets = wallets

    async def insert(self, customer: Customer, opening: Sequence[Movement]) -> Customer:
        doc = _customer_doc(customer)
        entries = []
        for currency, mine in _by_currency(opening):
            final = replay(currency, mine)
            doc["balances"].update(balance_field(final))
            made = entries_for(customer.id, mine, final, customer.created_at)
            doc["applied"].extend(window_doc(m, customer.created_at) for m in mine)
            entries.extend(made)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            # A re-run: the customer is there; its opening entries may still be missing.
            stored = await self.collection.find_one({"_id": customer.id})
            if stored is None:
                raise
            for _, mine in _by_currency(opening):
                await self.wallets.write_entries(recorded_entries(customer.id, stored, mine) or ())
            return _customer(stored)
        await self.wallets.write_entries(entries)
        return _customer(doc)

    async def get(self, customer_id: str, scope: str | None = None) -> Customer | None:
        query: dict[str, Any] = {"_id": customer_id}
        if scope is not None:
            query["scope"] = scope
        doc = await self.collection.find_one(query, _PROJECTION)
        return None if doc is None else _customer(doc)

    async def page(
        self, limit: int, cursor: str | None, scope: str | None = None
    ) -> tuple[list[Customer], str | None]:
        query: dict[str, Any] = {} if scope is None else {"scope": scope}
        docs, next_cursor = await newest_first(self.collection, query, limit, cursor, _PROJECTION)
        return [_customer(doc) for doc in docs], next_cursor


def _by_currency(movements: Sequence[Movement]) -> list[tuple[str, list[Movement]]]:
    """`movements` grouped by currency, in order: the store applies one currency per step."""
    currencies = dict.fromkeys(m.currency for m in movements)
    return [(c, [m for m in movements if m.currency == c]) for c in currencies]


def _customer_doc(customer: Customer) -> dict[str, Any]:
    return {
        "_id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "metadata": dict(customer.metadata),
        "scope": customer.scope,
        "createdAt": customer.created_at,
        "balances": {},
        "applied": [],
    }


def _customer(doc: Mapping[str, Any]) -> Customer:
    balances = doc.get("balances") or {}
    return Customer(
        id=doc["_id"],
        created_at=as_utc(doc["createdAt"]),
        name=doc.get("name"),
        email=doc.get("email"),
        metadata=dict(doc.get("metadata") or {}),
        balances=tuple(
            Balance(currency, int(b.get("availableMinor", 0)), int(b.get("reservedMinor", 0)))
            for currency, b in sorted(balances.items())
        ),
        scope=doc.get("scope"),
    )
