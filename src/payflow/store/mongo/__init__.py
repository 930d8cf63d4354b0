"""The MongoDB store (motor): the only package that speaks to the driver.

Writes that must survive a `kill -9` (orders, idempotency records, events,
deliveries, receipts) use a journaled write concern, and on a replica set a majority
one, which also survives the loss of the primary. Amounts are stored twice:
`amount` as Decimal128 for people reading with mongosh, `amountMinor` as an integer
for the database to compare and sum (mongomock cannot do arithmetic on Decimal128).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pymongo import ASCENDING, DESCENDING, WriteConcern
from pymongo.errors import OperationFailure

from payflow.store.base import GLOBAL_SCOPE
from payflow.store.mongo.clock import MongoClockStore
from payflow.store.mongo.common import JOURNALED, REPLICATED
from payflow.store.mongo.customers import MongoCustomerStore
from payflow.store.mongo.deliveries import MongoDeliveryStore
from payflow.store.mongo.endpoints import MongoEndpointStore
from payflow.store.mongo.events import MongoEventStore, MongoPaymentStore
from payflow.store.mongo.faults import MongoFaultStore
from payflow.store.mongo.idempotency import MongoIdempotencyStore
from payflow.store.mongo.journal import JournalBarrier
from payflow.store.mongo.orders import MongoOrderStore
from payflow.store.mongo.outages import translating_outages
from payflow.store.mongo.payment_methods import MongoPaymentMethodStore
from payflow.store.mongo.refunds import MongoRefundStore
from payflow.store.mongo.wallets import MongoWalletStore

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection, Database

__all__ = ["MongoStore"]

_OLD_ORDER_NUMBER_INDEX = "orderNumber_1"  # unique across scopes, before they had their own


@translating_outages
class MongoStore:
    """All of payflow's collections in one database."""

    def __init__(
        self, database: Database, *, journaled: bool = True, replicated: bool = False
    ) -> None:
        """`replicated`: the database lives on a replica set (`client.on_a_replica_set`)."""
        self.database = database
        concern = (REPLICATED if replicated else JOURNALED) if journaled else WriteConcern(w=1)
        # Group commit for the hot paths' last writes (store/mongo/journal.py).
        self.journal = JournalBarrier(_coll(database, "journal", concern))
        self.orders = MongoOrderStore(_coll(database, "orders", concern), self.journal)
        # A create's order keeps its key's use (store/mongo/idempotency).
        self.idempotency = MongoIdempotencyStore(
            _coll(database, "idempotency", concern),
            self.journal,
            self.orders.saved_response,
            self.orders.key_uses,
        )
        self.events = MongoEventStore(_coll(database, "events", concern))
        self.deliveries = MongoDeliveryStore(_coll(database, "deliveries", concern), self.journal)
        self.payments = MongoPaymentStore(_coll(database, "payments", concern), self.journal)
        self.endpoints = MongoEndpointStore(_coll(database, "endpoints", concern))
        self.refunds = MongoRefundStore(_coll(database, "refunds", concern))
        # Money (DESIGN §7): each wallet movement one insert of its ledger entry, the
        # customer's document a snapshot of the wallet (store/mongo/wallets.py).
        self.wallets = MongoWalletStore(
            _coll(database, "customers", concern), _coll(database, "balance_transactions", concern)
        )
        self.customers = MongoCustomerStore(_coll(database, "customers", concern), self.wallets)
        self.payment_methods = MongoPaymentMethodStore(
            _coll(database, "payment_methods", concern), _coll(database, "installation", concern)
        )
        self.faults = MongoFaultStore(_coll(database, "faults", concern))
        self.clock = MongoClockStore(_coll(database, "clock", concern))

    async def ensure_indexes(self) -> None:
        db = self.database
        await _order_numbers_per_scope(db.orders)
        await db.orders.create_index(
            [("processing.state", ASCENDING), ("processing.dueAt", ASCENDING)]
        )
        await db.orders.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
        # No (scope, createdAt) index: a client's own list (API keys on) walks the createdAt
        # one and filters; each index costs every write of the hot paths (docs/decisions.md).
        await _drop_index(db.orders, "scope_1_createdAt_-1__id_-1")
        await db.refunds.create_index([("orderId", ASCENDING), ("createdAt", ASCENDING)])
        await db.refunds.create_index(
            [("processing.state", ASCENDING), ("processing.dueAt", ASCENDING)]
        )
        # No (scope, key) index: `_id` is "<scope> <key>", unique by itself, and every index
        # costs each write (the embedded server: ~0.3 ms). An older database's is dropped.
        await _drop_index(db.idempotency, "scope_1_key_1")
        await db.idempotency.create_index("expiresAt", expireAfterSeconds=0)
        await db.events.create_index("orderNumber")
        await db.events.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
        await _drop_index(db.events, "scope_1_createdAt_-1__id_-1")
        await db.deliveries.create_index([("state", ASCENDING), ("nextAttemptAt", ASCENDING)])
        await db.deliveries.create_index("eventId")
        await db.deliveries.create_index([("endpointId", ASCENDING), ("createdAt", DESCENDING)])
        await db.endpoints.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
        await db.payments.create_index("orderNumber")
        await db.payments.create_index("eventKey")
        await self._ensure_money_indexes()

    async def _ensure_money_indexes(self) -> None:
        db = self.database
        await db.customers.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
        # The ledger's order, and the one place each entry takes in it (store/mongo/wallets).
        await db.balance_transactions.create_index(
            [("customerId", ASCENDING), ("seq", ASCENDING)], unique=True
        )
        await db.payment_methods.create_index(
            [("customer", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)]
        )
        # One customer holds a card once: the key exists only while attached (sparse).
        await db.payment_methods.create_index("attachedKey", unique=True, sparse=True)

    async def sync(self) -> None:
        await self.journal.sync()

    async def ping(self) -> None:
        await self.database.command("ping")


async def _order_numbers_per_scope(orders: Collection) -> None:
    """An orderNumber is unique per scope (API key), not across them (docs/decisions.md).

    The index is led by the number, so a look-up by the number alone (an external webhook)
    uses it too. A database from before has a unique index on the number alone, and may
    have orders from before scopes were stored: those were all made without API keys, so
    they get the global scope first (once: only while the old index is there), then the
    new index, then the old one goes."""
    if _OLD_ORDER_NUMBER_INDEX in await orders.index_information():
        await orders.update_many({"scope": None}, {"$set": {"scope": GLOBAL_SCOPE}})
    await orders.create_index([("orderNumber", ASCENDING), ("scope", ASCENDING)], unique=True)
    await _drop_index(orders, _OLD_ORDER_NUMBER_INDEX)


async def _drop_index(collection: Collection, name: str) -> None:
    # Not there (the usual case), or another process dropped it first: nothing to do.
    with contextlib.suppress(OperationFailure):
        await collection.drop_index(name)


def _coll(database: Database, name: str, concern: WriteConcern) -> Collection:
    return database.get_collection(name, write_concern=concern)
