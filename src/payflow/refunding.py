"""How a refund is counted on its order so that refunds never add up past the amount.

The order holds the running total (`refundedMinor`). A refund of `x` out of `total`
is counted by one conditional update that also sets the status, so the test and the
write cannot be split by a concurrent refund:

    refundedMinor == total - x   →  += x, Refunded            (`completes`)
    refundedMinor <  total - x   →  += x, PartiallyRefunded

Which of the two applies is guessed from the order as last read and the other is
tried if the guess misses; if both miss, the order changed under us (another refund
landed), so it is read again and the decision made afresh — no read-then-write ever
decides on its own. "The rest" (no amount) is the `completes` case for whatever is
left at that moment. The ledger on the order (`refunds.id`) makes a re-run after a
crash find its refund counted instead of counting it twice.

Database round trips: 1 conditional update in the common case; 2 when the status
guess misses; +1 read (and another round) per concurrent refund that got in between.
"""

from __future__ import annotations

from datetime import datetime

from payflow.domain.money import from_minor, to_minor
from payflow.domain.orders import REFUNDABLE, Order, OrderStatus
from payflow.errors import NotFound, OrderNotRefundable, RefundExceedsRemaining, Unavailable
from payflow.store.base import OrderStore

MAX_REFUNDS_PER_ORDER = 1000  # keeps the order's ledger far below MongoDB's document limit
MAX_ROUNDS = 16  # each lost round means another refund of this order succeeded meanwhile


def check_refundable(order: Order) -> None:
    """Refuse early what can never succeed; the conditional update still has the last word."""
    if order.status not in REFUNDABLE:
        reason = (
            "it is already fully refunded"
            if order.status is OrderStatus.REFUNDED
            else f"it is {order.status.value}; only a Paid order can be refunded"
        )
        raise OrderNotRefundable(f"Order {order.order_number!r} cannot be refunded: {reason}.")
    if order.refund_count >= MAX_REFUNDS_PER_ORDER:
        raise OrderNotRefundable(
            f"Order {order.order_number!r} has reached the limit of "
            f"{MAX_REFUNDS_PER_ORDER} refunds."
        )


async def count_refund(
    orders: OrderStore,
    order: Order,
    refund_id: str,
    amount_minor: int | None,
    now: datetime,
    *,
    resumed: bool = False,
) -> tuple[Order, int]:
    """Count refund `refund_id` of `amount_minor` (None: the rest) on `order`, atomically.

    Returns the order after it and the minor units counted. Raises `OrderNotRefundable`
    or `RefundExceedsRemaining` when it does not fit. `resumed`: this request took over
    one that died, which may have counted the refund already (1 more read).
    """
    if resumed:
        order, counted = await _reread(orders, order, refund_id)
        if counted is not None:
            return order, counted
    for _ in range(MAX_ROUNDS):
        check_refundable(order)
        total = order.refundable_minor  # what was captured: a partial capture refunds less
        remaining = total - to_minor(order.amount_refunded, order.currency)
        wanted = remaining if amount_minor is None else amount_minor
        if wanted > remaining:
            raise RefundExceedsRemaining(
                f"A refund of {_major(wanted, order)} is more than the "
                f"{_major(remaining, order)} {order.currency} left to refund on order "
                f"{order.order_number!r}."
            )
        guess = wanted == remaining
        for completes in (guess,) if amount_minor is None else (guess, not guess):
            updated = await orders.add_refund(order, refund_id, wanted, now, completes=completes)
            if updated is not None:
                return updated, wanted
        order, counted = await _reread(orders, order, refund_id)
        if counted is not None:
            return order, counted  # counted by a holder of this key that died before answering
    raise Unavailable(
        f"Order {order.order_number!r} is being refunded by many requests at once; retry."
    )


async def _reread(orders: OrderStore, order: Order, refund_id: str) -> tuple[Order, int | None]:
    found = await orders.refunded_by(order.id, refund_id)
    if found is None:  # pragma: no cover - orders are never deleted
        raise NotFound(f"No order with orderNumber {order.order_number!r}.")
    return found


def _major(minor: int, order: Order) -> str:
    return str(from_minor(minor, order.currency))
