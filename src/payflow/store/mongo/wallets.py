"""Wallet movements on the customer's document, and the ledger (`balance_transactions`).

A wallet step (a credit, a reservation, a capture with the release of the rest…) is
ONE conditional update of the customer document, which:
- tests that none of the step's entry ids was applied before (`applied.id` $nin) and
  that the balance covers it (`balances.<CUR>.availableMinor` ≥ what it takes, on the
  integer minor units), so concurrent reservations can never overdraw;
- `$inc`s the balance and appends the entries to `applied`, the wallet's log of its
  most recent `APPLIED_WINDOW` entries: id, currency, deltas, time.
Only then is each ledger entry inserted under its entry id, with the balance after it.

A re-run of a step (the same entry ids) matches nothing: the store finds the ids in
`applied` and reports a re-run, changing nothing, and inserts any ledger entry the first
run did not get to write (a crash between the two writes). The balance after such an
entry is recomputed exactly: the wallet's balance now, minus the deltas of the entries
appended after it, which the window holds in the order they were applied.

`applied` is bounded (the last `APPLIED_WINDOW` entries, `$push` with `$slice`), so the
document stays small; a re-run is recognised as long as fewer than that many other
movements of the customer came between the first run and the re-run (docs/decisions.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from payflow.domain.wallets import (
    Balance,
    BalanceTransaction,
    EntryType,
    InsufficientBalance,
    Movement,
    WalletError,
    combined_deltas,
    entries_for,
    required_minimums,
)
from payflow.store.base import CustomerNotFound, Moved
from payflow.store.mongo.common import after_cursor, encode_cursor
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

APPLIED_WINDOW = 1000
# A step whose balance changed between its failed update and the read explaining it is
# tried again; each try either applies, finds a re-run, or finds the balance short.
_TRIES = 10


class MongoWalletStore:
    def __init__(self, customers: Collection, ledger: Collection) -> None:
        self.customers = customers
        self.ledger = ledger

    async def apply(self, customer_id: str, movements: Sequence[Movement], now: datetime) -> Moved:
        currency = _one_currency(movements)
        field = f"balances.{currency}"
        ids = [m.entry_id for m in movements]
        query: dict[str, Any] = {"_id": customer_id, "applied.id": {"$nin": ids}}
        need_available, need_reserved = required_minimums(movements)
        if need_available:
            query[f"{field}.availableMinor"] = {"$gte": need_available}
        if need_reserved:
            query[f"{field}.reservedMinor"] = {"$gte": need_reserved}
        d_available, d_reserved = combined_deltas(movements)
        update = {
            "$inc": {f"{field}.availableMinor": d_available, f"{field}.reservedMinor": d_reserved},
            "$push": {
                "applied": {
                    "$each": [window_doc(m, now) for m in movements],
                    "$slice": -APPLIED_WINDOW,
                }
            },
        }
        balance = Balance(currency)
        for _ in range(_TRIES):
            doc = await self.customers.find_one_and_update(
                query, update, projection={field: 1}, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                final = _balance(currency, doc["balances"][currency])
                entries = entries_for(customer_id, movements, final, now)
                await self.write_entries(entries)
                return Moved(entries, rerun=False)
            stored = await self.customers.find_one({"_id": customer_id}, {field: 1, "applied": 1})
            if stored is None:
                raise CustomerNotFound(customer_id)
            recorded = recorded_entries(customer_id, stored, movements)
            if recorded is not None:
                await self.write_entries(recorded)
                return Moved(recorded, rerun=True)
            balance = _balance(currency, (stored.get("balances") or {}).get(currency) or {})
            if balance.available_minor < need_available:
                raise InsufficientBalance(currency, balance.available_minor, need_available)
            if balance.reserved_minor < need_reserved:
                raise InsufficientBalance(currency, balance.reserved_minor, need_reserved)
        raise InsufficientBalance(currency, balance.available_minor, need_available)

    async def write_entries(self, entries: Sequence[BalanceTransaction]) -> None:
        """Insert each entry unless it is there: entries never change, so the first wins.

        A plain insert, not an upsert: the embedded server can answer concurrent upserts
        of one id inconsistently (store/mongo/refunds.py)."""
        for entry in entries:
            with contextlib.suppress(DuplicateKeyError):
                await self.ledger.insert_one(_entry_doc(entry))

    async def transactions(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[BalanceTransaction], str | None]:
        query = {"customerId": customer_id, **after_cursor(cursor, "createdAt")}
        found = self.ledger.find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
        docs = await found.to_list(limit + 1)
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor(as_utc(last["createdAt"]), last["_id"])
        return [_entry(doc) for doc in docs[:limit]], next_cursor

    async def ledger_of(self, customer_id: str) -> list[BalanceTransaction]:
        found = self.ledger.find({"customerId": customer_id}).sort(
            [("createdAt", ASCENDING), ("_id", ASCENDING)]
        )
        return [_entry(doc) async for doc in found]


def recorded_entries(
    customer_id: str, stored: Mapping[str, Any], movements: Sequence[Movement]
) -> list[BalanceTransaction] | None:
    """The entries of `movements` as their first run applied them, if it did (a re-run).

    The balance after the step's last entry is the balance now minus every entry of the
    same currency appended to the window after it."""
    window: list[Mapping[str, Any]] = list(stored.get("applied") or [])
    ids = {m.entry_id for m in movements}
    positions = [i for i, item in enumerate(window) if item["id"] in ids]
    if not positions:
        return None
    if len(positions) != len(ids):
        raise WalletError("a step's entry ids were applied in another grouping")
    currency = movements[0].currency
    now = _balance(currency, (stored.get("balances") or {}).get(currency) or {})
    later = [item for item in window[positions[-1] + 1 :] if item["currency"] == currency]
    final = Balance(
        currency,
        now.available_minor - sum(int(item["availableDelta"]) for item in later),
        now.reserved_minor - sum(int(item["reservedDelta"]) for item in later),
    )
    return entries_for(customer_id, movements, final, as_utc(window[positions[-1]]["at"]))


def window_doc(movement: Movement, at: datetime) -> dict[str, Any]:
    d_available, d_reserved = movement.deltas
    return {
        "id": movement.entry_id,
        "currency": movement.currency,
        "availableDelta": d_available,
        "reservedDelta": d_reserved,
        "at": at,
    }


def balance_field(balance: Balance) -> dict[str, Any]:
    """`balances.<CUR>` of a customer document holding `balance`."""
    return {
        balance.currency: {
            "availableMinor": balance.available_minor,
            "reservedMinor": balance.reserved_minor,
        }
    }


def _one_currency(movements: Sequence[Movement]) -> str:
    if not movements:
        raise WalletError("a wallet step with no movement")
    currencies = {m.currency for m in movements}
    if len(currencies) != 1:
        raise WalletError(f"a wallet step in several currencies: {sorted(currencies)}")
    if len({m.entry_id for m in movements}) != len(movements):
        raise WalletError("a wallet step naming one entry id twice")
    return movements[0].currency


def _balance(currency: str, doc: Mapping[str, Any]) -> Balance:
    return Balance(currency, int(doc.get("availableMinor", 0)), int(doc.get("reservedMinor", 0)))


def _entry_doc(entry: BalanceTransaction) -> dict[str, Any]:
    return {
        "_id": entry.id,
        "customerId": entry.customer_id,
        "type": entry.type.value,
        "currency": entry.currency,
        # Decimal128 for people reading with mongosh; the integers for the database.
        "amount": Decimal128(entry.amount),
        "amountMinor": entry.amount_minor,
        "heldMinor": entry.held_minor,
        "available": Decimal128(entry.available),
        "availableMinor": entry.available_minor,
        "reserved": Decimal128(entry.reserved),
        "reservedMinor": entry.reserved_minor,
        "orderNumber": entry.order_number,
        "description": entry.description,
        "createdAt": entry.created_at,
    }


def _entry(doc: Mapping[str, Any]) -> BalanceTransaction:
    return BalanceTransaction(
        id=doc["_id"],
        customer_id=doc["customerId"],
        type=EntryType(doc["type"]),
        currency=doc["currency"],
        amount_minor=int(doc["amountMinor"]),
        held_minor=int(doc["heldMinor"]),
        available_minor=int(doc["availableMinor"]),
        reserved_minor=int(doc["reservedMinor"]),
        created_at=as_utc(doc["createdAt"]),
        order_number=doc.get("orderNumber"),
        description=doc.get("description"),
    )
