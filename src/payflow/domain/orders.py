"""Orders: their states, the transitions allowed between them, and their identity."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from payflow.domain.money import from_minor, to_minor
from payflow.ids import token


class OrderStatus(StrEnum):
    PENDING = "Pending"
    AUTHORIZED = "Authorized"  # manual capture: the money is held, waiting for a capture
    PAID = "Paid"
    FAILED = "Failed"
    CANCELED = "Canceled"
    PARTIALLY_REFUNDED = "PartiallyRefunded"
    REFUNDED = "Refunded"


# Orders only move forward: a late or replayed event never undoes an outcome. A payment
# decides a Pending order; refunds then take a Paid order down to Refunded, possibly in parts.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.AUTHORIZED, OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.CANCELED}
    ),
    OrderStatus.AUTHORIZED: frozenset({OrderStatus.PAID, OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}
    ),
    OrderStatus.REFUNDED: frozenset(),
}
CANCELABLE = frozenset(s for s, targets in TRANSITIONS.items() if OrderStatus.CANCELED in targets)
PAID_STATES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})
REFUNDABLE = frozenset(s for s, targets in TRANSITIONS.items() if OrderStatus.REFUNDED in targets)

ORDER_NUMBER_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ORDER_NUMBER_PATTERN = f"^{ORDER_NUMBER_RE.pattern}$"


class CaptureMethod(StrEnum):
    """Stripe's `capture_method`: pay at once, or authorize now and capture later."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class Funds(StrEnum):
    """How far a wallet-paid order's job has moved its money (`funds` on the order).

    Set by conditional updates, so the job and a cancel agree on who moves money:
    `moving` is claimed before the wallet is touched (a cancel then waits for the
    outcome), and the outcome is written before anything is announced, so a re-run
    announces what the first run decided."""

    MOVING = "moving"  # the job is reserving or charging: nobody else may decide now
    RESERVED = "reserved"  # an authorization's hold is in the wallet
    CHARGED = "charged"  # an automatic payment was taken from the wallet
    DECLINED = "declined"  # the wallet could not pay: the order fails `insufficient_funds`


BALANCE = "balance"  # `paymentMethod` of an order paid from its customer's wallet
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REQUESTED_BY_CUSTOMER = "requested_by_customer"
EXPIRED = "expired"  # an authorization not captured in time ([payments] authorization_hours)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def status_after_refund(amount_minor: int, refunded_minor: int) -> OrderStatus:
    """What an order is once `refunded_minor` of its `amount_minor` has been given back."""
    if refunded_minor >= amount_minor:
        return OrderStatus.REFUNDED
    return OrderStatus.PARTIALLY_REFUNDED


def new_order_id() -> str:
    """Random, URL-safe, sortable enough for humans: `ord_` + 24 hex digits."""
    return f"ord_{token(96)}"


def keyed_order_id(scope: str, key: str, generation: int) -> str:
    """The id of the order an Idempotency-Key creates: `ord_` + 24 hex digits of a hash.

    Derived, not random, so that inserting the order is also what claims the key: the
    unique `_id` lets one request of a key win, and a retry finds the order by this id
    (one write per create; docs/decisions.md). `generation` counts the key's uses: used
    again after its retention, a key makes a new order under the next generation's id."""
    digest = hashlib.sha256(f"{scope}\n{key}\n{generation}".encode()).hexdigest()
    return f"ord_{digest[:24]}"


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the API shows it. Amounts are exact: `amount` has the currency's digits."""

    id: str
    order_number: str
    amount: Decimal
    currency: str
    status: OrderStatus
    payment_method: str
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    amount_refunded: Decimal = Decimal(0)
    refund_count: int = 0
    canceled_at: datetime | None = None
    # The client (API key) that created it, "global" without keys; an orderNumber is unique
    # per scope. None only on a database from before scopes, until its start-up migrates it.
    scope: str | None = None
    customer: str | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    captured_minor: int | None = None  # set by a manual capture: what it took
    cancellation_reason: str | None = None
    funds: Funds | None = None  # wallet-paid orders only: see `Funds`
    authorized_until: datetime | None = None  # when an uncaptured authorization expires

    @property
    def paid_from_wallet(self) -> bool:
        return self.payment_method == BALANCE and self.customer is not None

    @property
    def amount_capturable(self) -> Decimal:
        """Stripe's `amount_capturable`: the whole amount while Authorized, else 0."""
        if self.status is OrderStatus.AUTHORIZED:
            return self.amount
        return from_minor(0, self.currency)

    @property
    def amount_captured(self) -> Decimal:
        """What was taken: the capture's amount, or the whole amount of a paid order."""
        if self.captured_minor is not None:
            return from_minor(self.captured_minor, self.currency)
        if self.status in PAID_STATES:
            return self.amount
        return from_minor(0, self.currency)

    @property
    def refundable_minor(self) -> int:
        """What refunds may give back in all: what was captured."""
        if self.captured_minor is not None:
            return self.captured_minor
        return to_minor(self.amount, self.currency)
