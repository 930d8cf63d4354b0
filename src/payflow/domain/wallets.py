"""Wallets and their immutable ledger, as pure arithmetic on integer minor units.

A wallet holds, per currency, `available` (spendable) and `reserved` (held for an
authorized order). Every change is a ledger entry of one `EntryType`, and each type
moves the two numbers in one fixed way (`deltas`). Entries never change once written,
so for every customer and currency:

    sum(entry.amount) == available + reserved      sum(entry.held) == reserved

and neither number is ever below zero. An entry's id is derived from what caused it
(an order and its step, or an idempotent request), so the store can tell a re-run of
a step from a new one and apply each entry exactly once (store/mongo/wallets.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from payflow.domain.money import from_minor


class EntryType(StrEnum):
    ADJUSTMENT = "adjustment"  # a credit (> 0) or debit (< 0) of `available`, by API
    RESERVE = "reserve"  # available → reserved: an authorization's hold
    RELEASE = "release"  # reserved → available: a hold canceled, expired, or not captured
    CAPTURE = "capture"  # reserved → paid out: the hold becomes a payment
    REFUND = "refund"  # paid back into available: a refund of a wallet-paid order


ENTRY_ID_PREFIX = "cbtx_"


def entry_id(subject: str, step: str) -> str:
    """`cbtx_` + 24 hex digits derived from (subject, step).

    `subject` is what the movement belongs to (an order id, an idempotency claim),
    `step` which of its movements this is (`reserve`, `capture`, `refund:<re_…>`):
    the same pair always gives the same id, so a re-run names the entry it made before.
    """
    digest = hashlib.sha256(f"{subject}\x1f{step}".encode()).hexdigest()
    return f"{ENTRY_ID_PREFIX}{digest[:24]}"


class WalletError(ValueError):
    """A movement that can never be applied, whatever the balance (a programming error)."""


class InsufficientBalance(Exception):
    """A movement would take `available` (or `reserved`) below zero; nothing changed."""

    def __init__(self, currency: str, available_minor: int, needed_minor: int) -> None:
        self.currency = currency
        self.available_minor = available_minor
        self.needed_minor = needed_minor
        super().__init__(
            f"{currency} balance {from_minor(available_minor, currency)} is less than "
            f"{from_minor(needed_minor, currency)}"
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency of a wallet, in integer minor units; Decimal views for the wire."""

    currency: str
    available_minor: int = 0
    reserved_minor: int = 0

    @property
    def available(self) -> Decimal:
        return from_minor(self.available_minor, self.currency)

    @property
    def reserved(self) -> Decimal:
        return from_minor(self.reserved_minor, self.currency)

    def after(self, movement: Movement) -> Balance:
        """This balance once `movement` is applied; raises `InsufficientBalance`."""
        if movement.currency != self.currency:
            raise WalletError(f"a {movement.currency} movement on a {self.currency} balance")
        d_available, d_reserved = movement.deltas
        available = self.available_minor + d_available
        reserved = self.reserved_minor + d_reserved
        if available < 0:
            raise InsufficientBalance(self.currency, self.available_minor, -d_available)
        if reserved < 0:
            raise InsufficientBalance(self.currency, self.reserved_minor, -d_reserved)
        return Balance(self.currency, available, reserved)


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger entry to apply: its type and size, before it has a balance after it.

    `minor` is positive, except for an adjustment, whose sign says credit or debit.
    """

    entry_id: str
    type: EntryType
    currency: str
    minor: int
    order_number: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.entry_id.startswith(ENTRY_ID_PREFIX):
            raise WalletError(f"entry id {self.entry_id!r} is not a {ENTRY_ID_PREFIX}… id")
        if self.type is EntryType.ADJUSTMENT:
            if self.minor == 0:
                raise WalletError("an adjustment of zero")
        elif self.minor <= 0:
            raise WalletError(f"a {self.type} of {self.minor} minor units")

    @property
    def deltas(self) -> tuple[int, int]:
        """(change of available, change of reserved), in minor units."""
        m = self.minor
        match self.type:
            case EntryType.ADJUSTMENT | EntryType.REFUND:
                return m, 0
            case EntryType.RESERVE:
                return -m, m
            case EntryType.RELEASE:
                return m, -m
            case EntryType.CAPTURE:
                return 0, -m

    @property
    def amount_minor(self) -> int:
        """The change of what the customer owns (available + reserved): the ledger's amount."""
        d_available, d_reserved = self.deltas
        return d_available + d_reserved


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One ledger entry as the API shows it: the movement and the balance after it."""

    id: str
    customer_id: str
    type: EntryType
    currency: str
    amount_minor: int  # change of available + reserved (0 for a reserve or release)
    held_minor: int  # change of reserved
    available_minor: int  # after this entry
    reserved_minor: int  # after this entry
    created_at: datetime
    order_number: str | None = None
    description: str | None = None

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def held(self) -> Decimal:
        return from_minor(self.held_minor, self.currency)

    @property
    def balance(self) -> Balance:
        """The balance right after this entry (`available`, `reserved` as Decimals)."""
        return Balance(self.currency, self.available_minor, self.reserved_minor)


def entry_after(
    customer_id: str, movement: Movement, after: Balance, created_at: datetime
) -> BalanceTransaction:
    """`movement`'s ledger entry, applied with `after` as the balance it leaves."""
    return BalanceTransaction(
        id=movement.entry_id,
        customer_id=customer_id,
        type=movement.type,
        currency=movement.currency,
        amount_minor=movement.amount_minor,
        held_minor=movement.deltas[1],
        available_minor=after.available_minor,
        reserved_minor=after.reserved_minor,
        created_at=created_at,
        order_number=movement.order_number,
        description=movement.description,
    )


def replay(currency: str, movements: Iterable[Movement]) -> Balance:
    """The balance a ledger of `movements` adds up to, checking each step (the invariant)."""
    balance = Balance(currency)
    for movement in movements:
        balance = balance.after(movement)
    return balance


def ledger_totals(entries: Iterable[BalanceTransaction]) -> dict[str, Balance]:
    """Per currency, the (available, reserved) that `entries` sum to: compare with the wallet."""
    totals: dict[str, tuple[int, int]] = {}
    for entry in entries:
        total, held = totals.get(entry.currency, (0, 0))
        totals[entry.currency] = (total + entry.amount_minor, held + entry.held_minor)
    return {c: Balance(c, total - held, held) for c, (total, held) in totals.items()}


# The movements of each money step, with their entry ids: what the API and the worker
# hand to the store. An order's steps are keyed by the order's id, so each happens once.


def adjustment(subject: str, currency: str, minor: int, description: str | None = None) -> Movement:
    """A credit (> 0) or debit (< 0) by API; `subject` is the request's idempotency claim."""
    return Movement(
        entry_id(subject, "adjustment"),
        EntryType.ADJUSTMENT,
        currency,
        minor,
        description=description,
    )


def opening_balance(customer_id: str, currency: str, minor: int) -> Movement:
    """A new customer's starting balance in `currency`, an adjustment like any other."""
    return Movement(
        entry_id(customer_id, f"opening:{currency}"),
        EntryType.ADJUSTMENT,
        currency,
        minor,
        description="opening balance",
    )


def reserve(order_id: str, order_number: str, currency: str, minor: int) -> Movement:
    """An authorization's hold on a wallet-paid order."""
    return Movement(
        entry_id(order_id, "reserve"), EntryType.RESERVE, currency, minor, order_number=order_number
    )


def capture(
    order_id: str, order_number: str, currency: str, captured: int, held: int
) -> list[Movement]:
    """Capture `captured` of a hold of `held`, then release the rest (DESIGN §7).

    Two entries, applied in turn: a run cut short between them is completed by its
    re-run, which finds the capture in and applies the release."""
    if not 0 < captured <= held:
        raise WalletError(f"capture of {captured} from a hold of {held}")
    steps = [
        Movement(
            entry_id(order_id, "capture"),
            EntryType.CAPTURE,
            currency,
            captured,
            order_number=order_number,
        )
    ]
    if captured < held:
        steps.append(release(order_id, order_number, currency, held - captured))
    return steps


def release(order_id: str, order_number: str, currency: str, minor: int) -> Movement:
    """A hold given back: the order canceled or expired, or the part not captured."""
    return Movement(
        entry_id(order_id, "release"), EntryType.RELEASE, currency, minor, order_number=order_number
    )


def charge(order_id: str, order_number: str, currency: str, minor: int) -> list[Movement]:
    """An automatic-capture payment from the wallet: a hold captured at once (two entries,
    so the ledger reads the same as a manual capture)."""
    return [
        reserve(order_id, order_number, currency, minor),
        *capture(order_id, order_number, currency, minor, minor),
    ]


def refund(order_id: str, order_number: str, refund_id: str, currency: str, minor: int) -> Movement:
    """A refund of a wallet-paid order back into the wallet; one per refund id."""
    return Movement(
        entry_id(order_id, f"refund:{refund_id}"),
        EntryType.REFUND,
        currency,
        minor,
        order_number=order_number,
    )
