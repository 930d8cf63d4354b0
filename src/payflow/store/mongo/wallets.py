"""Wallet movements on the customer's document, and the ledger (`balance_transactions`).

A wallet step (a credit, a reservation, a capture with the release of the rest…) is
ONE conditional update of the customer document, which:
- tests that none of the step's entry ids was applied before (`applied.id` $nin) and
  that the balance covers it (`balances.<CUR>.availableMinor` ≥ what it takes, on the
  integer minor units), so concurrent reservations can never overdraw;
- `$inc`s the balance and appends the entries to `applied`, the wallet's log of its
  most recent `APPLIED_WINDOW` entries: id, currency, deltas, time.
Only then is each ledger entry inserted under its entry id, with the balance after it.

The balance after each entry is read back from the window: the wallet's balance now,
minus the deltas of the entries appended after the step's, which the window holds in
the order they were applied. So concurrent steps never need a findAndModify.

A re-run of a step (the same entry ids) changes nothing. If the first run wrote any of
its ledger entries, a read of the ledger finds them before anything else (whatever the
window still remembers); if it crashed between the wallet update and the ledger insert,
the update matches nothing, the store finds the ids in `applied`, and writes the
missing entries with their exact balance after them.

`applied` is bounded (the last `APPLIED_WINDOW` entries, `$push` with `$slice`), so the
document stays small. The one re-run it cannot recognise is that of a step whose first
run died between its two writes and that comes back after `APPLIED_WINDOW` other
movements of the same customer (docs/decisions.md).

Round trips per movement: a ledger read, the update (journaled), a read of the wallet,
one insert (journaled) per entry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import ASCENDING
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
from payflow.store.mongo.common import newest_first
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection

APPLIED_WINDOW = 1000
# A step whose balance changed between its failed update and the read explaining it is
# tried again; each try either applies, finds a re-run, or finds the balance short.
_TRIES = 10
# How much of the window a movement reads back first: the entries since its own.
_RECENT = 64


class MongoWalletStore:
    def __init__(self, customers: Collection, ledger: Collection) -> None:
        self.customers = customers
        self.ledger = ledger

    async def apply(self, customer_id: str, movements: Sequence[Movement], now: datetime) -> Moved:
        currency = _one_currency(movements)
        written = await self._written(customer_id, movements)
        if written is not None:  # a re-run of a step that got as far as its ledger
            await self.write_entries(written)
            return Moved(written, rerun=True)
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
            # `update_one` and a read, not `find_one_and_update`: the embedded server scans
            # the whole collection for a findAndModify (measured: ~100 ms at 3,000
            # customers, against ~1 ms for this update). The read finds the step in the
            # window and the balance right after it, whatever came after.
            result = await self.customers.update_one(query, update)
            stored = await self._wallet(customer_id, currency, ids)
            if stored is None:
                raise CustomerNotFound(customer_id)
            recorded = recorded_entries(customer_id, stored, movements)
            if recorded is not None:
                await self.write_entries(recorded)
                return Moved(recorded, rerun=result.modified_count == 0)
            if result.modified_count == 1:  # pragma: no cover - the window holds the step
                raise WalletError(f"{ids} applied but no longer in the wallet's window")
            balance = _balance(currency, (stored.get("balances") or {}).get(currency) or {})
            if balance.available_minor < need_available:
                raise InsufficientBalance(currency, balance.available_minor, need_available)
            if balance.reserved_minor < need_reserved:
                raise InsufficientBalance(currency, balance.reserved_minor, need_reserved)
        raise InsufficientBalance(currency, balance.available_minor, need_available)

    async def _written(
        self, customer_id: str, movements: Sequence[Movement]
    ) -> list[BalanceTransaction] | None:
        """The step's entries if its ledger has any of them (the step was applied),
        whatever the window still remembers."""
        found = self.ledger.find(
            {"_id": {"$in": [m.entry_id for m in movements]}, "customerId": customer_id}
        )
        entries = {doc["_id"]: _entry(doc) async for doc in found}
        for position, movement in enumerate(movements):
            entry = entries.get(movement.entry_id)
            if entry is not None:
                d_available, d_reserved = combined_deltas(movements[position + 1 :])
                final = Balance(
                    entry.currency,
                    entry.available_minor + d_available,
                    entry.reserved_minor + d_reserved,
                )
                return entries_for(customer_id, movements, final, entry.created_at)
        return None

    async def _wallet(
        self, customer_id: str, currency: str, ids: Sequence[str]
    ) -> dict[str, Any] | None:
        """The wallet in `currency` and the end of its window from the step's entries on.

        The last few entries first (the usual case, right after the update); the whole
        window only when it holds the step further back (a re-run after a crash). The
        balance and the window always come from one read, so they agree."""
        field = f"balances.{currency}"
        doc = await self.customers.find_one(
            {"_id": customer_id}, {field: 1, "applied": {"$slice": -_RECENT}}
        )
        if doc is None or {item["id"] for item in doc.get("applied") or []} >= set(ids):
            return doc
        whole = await self.customers.find_one(
            {"_id": customer_id, "applied.id": ids[0]}, {field: 1, "applied": 1}
        )
        return doc if whole is None else whole

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
        docs, next_cursor = await newest_first(
            self.ledger, {"customerId": customer_id}, limit, cursor
        )
        return [_entry(doc) for doc in docs], next_cursor

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
