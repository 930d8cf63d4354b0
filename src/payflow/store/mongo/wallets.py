"""Wallet movements and their ledger (`balance_transactions`): the ledger is the wallet.

Each movement is ONE insert of its ledger entry, and that insert is what decides it:
- `_id` is the entry id, derived from (order, step) or from the request: a re-run of a
  step inserts the same id, which the database refuses, so it is applied once however
  often it runs — forever, not only while some list remembers it;
- `seq` numbers the customer's entries 1, 2, 3… under a unique index on
  (customerId, seq): an entry is computed from the balance after entry `seq - 1`
  (its `availableMinor`, `reservedMinor` are the balance after it) and only one entry
  can follow it. Two concurrent reservations computed from the same balance cannot
  both be inserted; the loser reads the new head and tries again, so a wallet is never
  overdrawn and every entry records the exact balance after it.

The customer document carries a snapshot of the head (`wallet.seq`, `wallet.balances`),
moved forward after each insert (a compare-and-set on `wallet.seq`). It is a cache: a
crash right after an insert leaves it one entry behind, and whoever reads the wallet
next (`head`) applies the entries past it and saves it again. Nothing is ever lost
between two writes, and no list of applied ids grows on the customer document (on the
embedded server every write costs in proportion to the document's size).

Round trips per movement, uncontended: a read of the entry by its id (a re-run?), a
read of the customer and one of the ledger past its snapshot (the head), the insert
(journaled), the snapshot's update (staged: it can always be rebuilt from the ledger).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from payflow.domain.wallets import (
    Balance,
    BalanceTransaction,
    EntryType,
    InsufficientBalance,
    Movement,
    WalletError,
    entry_after,
)
from payflow.store.base import CustomerNotFound, InvalidCursor, Moved
from payflow.store.mongo.journal import staged
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

# Each lost race means another movement of the wallet went in: progress is certain, and
# this bound only turns a bug into an error instead of a loop.
_MAX_TRIES = 10_000


@dataclass(slots=True)
class Head:
    """The balance after the customer's latest ledger entry (`seq`; 0 before any)."""

    seq: int = 0
    balances: dict[str, Balance] = field(default_factory=dict)

    def balance(self, currency: str) -> Balance:
        return self.balances.get(currency) or Balance(currency)

    def advanced(self, entries: Sequence[Mapping[str, Any]]) -> bool:
        """Apply ledger entries past `seq`, in order; whether any was."""
        for doc in entries:
            self.seq = int(doc["seq"])
            currency = doc["currency"]
            self.balances[currency] = Balance(
                currency, int(doc["availableMinor"]), int(doc["reservedMinor"])
            )
        return bool(entries)


@translating_outages
class MongoWalletStore:
    def __init__(self, customers: Collection, ledger: Collection) -> None:
        self.customers = customers
        self.snapshots = staged(customers)
        self.ledger = ledger

    async def apply(self, customer_id: str, movements: Sequence[Movement], now: datetime) -> Moved:
        """Apply `movements` in order, each one entry; a re-run skips the entries it
        finds (all of them: a no-op) and goes on with the rest of a step cut short."""
        _check_step(movements)
        entries: list[BalanceTransaction] = []
        rerun = False
        for movement in movements:
            entry, existed = await self._append(customer_id, movement, now)
            entries.append(entry)
            rerun = rerun or existed
        return Moved(entries, rerun=rerun)

    async def caught_up(self, customer_id: str, wallet: Mapping[str, Any] | None) -> Head:
        """The head from a customer document's `wallet` snapshot and any ledger entries
        past it (one read, nearly always empty: only a crash leaves the snapshot behind)."""
        head = snapshot_head(wallet or {})
        found = self.ledger.find({"customerId": customer_id, "seq": {"$gt": head.seq}})
        await self._advance(customer_id, head, await found.sort("seq", ASCENDING).to_list(None))
        return head

    async def transactions(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[BalanceTransaction], str | None]:
        """Newest first, in the order the entries were applied (`seq`)."""
        query: dict[str, Any] = {"customerId": customer_id}
        if cursor is not None:
            query["seq"] = {"$lt": _decode_seq(cursor)}
        found = self.ledger.find(query).sort([("customerId", ASCENDING), ("seq", DESCENDING)])
        docs = await found.to_list(limit + 1)
        next_cursor = _encode_seq(int(docs[limit - 1]["seq"])) if len(docs) > limit else None
        return [_entry(doc) for doc in docs[:limit]], next_cursor

    async def ledger_of(self, customer_id: str) -> list[BalanceTransaction]:
        found = self.ledger.find({"customerId": customer_id}).sort("seq", ASCENDING)
        return [_entry(doc) async for doc in found]

    async def _append(
        self, customer_id: str, movement: Movement, now: datetime
    ) -> tuple[BalanceTransaction, bool]:
        """Insert `movement`'s entry after the current head; (entry, whether it existed).

        Whether it exists is asked first, and again after any refused insert: a re-run
        must never be judged against the balance its first run left (a reserve re-run on
        the wallet it emptied is a re-run, not `InsufficientBalance`)."""
        existing = await self._entry(customer_id, movement.entry_id)
        for _ in range(_MAX_TRIES):
            if existing is not None:
                return existing, True
            head = await self._read_head(customer_id)
            try:
                after = head.balance(movement.currency).after(movement)
            except InsufficientBalance:
                # A concurrent run of the same step may have put this entry in between
                # the first look and the head: then the head is its doing (a re-run).
                # If it is not in now, it was not in when the head was read: short.
                existing = await self._entry(customer_id, movement.entry_id)
                if existing is not None:
                    return existing, True
                raise
            entry = entry_after(customer_id, movement, after, now)
            try:
                await self.ledger.insert_one(_entry_doc(entry, head.seq + 1))
            except DuplicateKeyError:
                # Another entry took that place (read the new head and try again), or this
                # very entry went in meanwhile (a concurrent run of the same step).
                existing = await self._entry(customer_id, movement.entry_id)
                continue
            head.seq += 1
            head.balances[movement.currency] = after
            await self._save(customer_id, head, head.seq - 1)
            return entry, False
        raise WalletError(f"no place in {customer_id}'s ledger after {_MAX_TRIES} tries")

    async def _entry(self, customer_id: str, entry_id: str) -> BalanceTransaction | None:
        """The ledger entry `entry_id` of this customer, if it is in (by `_id`: one read;
        the embedded server scans for an `$or` with the tail query)."""
        doc = await self.ledger.find_one({"_id": entry_id})
        if doc is None:
            return None
        if doc["customerId"] != customer_id:
            raise WalletError(f"entry {entry_id} belongs to another customer")
        return _entry(doc)

    async def _read_head(self, customer_id: str) -> Head:
        """The head: the customer's snapshot, moved past any entry it lacks (two reads)."""
        doc = await self.customers.find_one({"_id": customer_id}, {"wallet": 1})
        if doc is None:
            raise CustomerNotFound(customer_id)
        return await self.caught_up(customer_id, doc.get("wallet"))

    async def _advance(
        self, customer_id: str, head: Head, entries: Sequence[Mapping[str, Any]]
    ) -> None:
        """Apply the ledger `entries` past the snapshot to `head` and save it."""
        saved_seq = head.seq
        if head.advanced(entries):
            await self._save(customer_id, head, saved_seq)

    async def _save(self, customer_id: str, head: Head, previous_seq: int) -> None:
        """Move the snapshot from `previous_seq` to `head`; a no-op when someone else
        moved it already (the ledger says the same either way)."""
        await self.snapshots.update_one(
            {"_id": customer_id, "wallet.seq": previous_seq},
            {"$set": {"wallet": wallet_doc(head)}},
        )


def wallet_doc(head: Head) -> dict[str, Any]:
    """A customer document's `wallet`: the snapshot of its head."""
    return {
        "seq": head.seq,
        "balances": {
            b.currency: {"availableMinor": b.available_minor, "reservedMinor": b.reserved_minor}
            for b in head.balances.values()
        },
    }


def snapshot_head(doc: Mapping[str, Any]) -> Head:
    """The head a `wallet` snapshot records (it may lag the ledger: `caught_up`)."""
    balances = {
        currency: Balance(currency, int(b["availableMinor"]), int(b["reservedMinor"]))
        for currency, b in (doc.get("balances") or {}).items()
    }
    return Head(int(doc.get("seq") or 0), balances)


def _check_step(movements: Sequence[Movement]) -> None:
    if not movements:
        raise WalletError("a wallet step with no movement")
    if len({m.entry_id for m in movements}) != len(movements):
        raise WalletError("a wallet step naming one entry id twice")


def _encode_seq(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_seq(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, seq = raw.split(":", 1)
        if prefix != "seq":
            raise ValueError(prefix)
        return int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one payflow issued") from exc


def _entry_doc(entry: BalanceTransaction, seq: int) -> dict[str, Any]:
    return {
        "_id": entry.id,
        "customerId": entry.customer_id,
        "seq": seq,
        "type": entry.type.value,
        "currency": entry.currency,
        # Decimal128 for people reading with mongosh; the integers for the database.
        "amount": Decimal128(entry.amount),
        "amountMinor": entry.amount_minor,
        "heldMinor": entry.held_minor,
        "available": Decimal128(entry.balance.available),
        "availableMinor": entry.available_minor,
        "reserved": Decimal128(entry.balance.reserved),
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
