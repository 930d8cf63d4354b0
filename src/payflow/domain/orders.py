"""Orders: their states, the transitions allowed between them, and their identity."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from payflow.ids import token


class OrderStatus(StrEnum):
    PENDING = "Pending"
    PAID = "Paid"
    FAILED = "Failed"
    CANCELED = "Canceled"
    PARTIALLY_REFUNDED = "PartiallyRefunded"
    REFUNDED = "Refunded"


# Orders only move forward: a late or replayed event never undoes an outcome. A payment
# decides a Pending order; refunds then take a Paid order down to Refunded, possibly in parts.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}
    ),
    OrderStatus.REFUNDED: frozenset(),
}
CANCELABLE = frozenset(s for s, targets in TRANSITIONS.items() if OrderStatus.CANCELED in targets)
REFUNDABLE = frozenset(s for s, targets in TRANSITIONS.items() if OrderStatus.REFUNDED in targets)

ORDER_NUMBER_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ORDER_NUMBER_PATTERN = f"^{ORDER_NUMBER_RE.pattern}$"


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
