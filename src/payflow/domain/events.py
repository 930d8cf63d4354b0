"""Webhook events the simulated gateway emits: types, deterministic ids and bodies.

An event id is a hash of its subject (the order, or the refund) and the event type, so
re-running a step after a crash produces the very same event, and the receiver
recognises it as a duplicate.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from payflow.domain.orders import Order, OrderStatus
from payflow.domain.payment_methods import Outcome
from payflow.domain.refunds import Refund
from payflow.timefmt import isoformat


class EventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    ORDER_CANCELED = "order.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"


# What each event type does to a Pending order on the receiving side.
TARGET_STATUS: dict[str, OrderStatus] = {
    EventType.PAYMENT_SUCCEEDED: OrderStatus.PAID,
    EventType.PAYMENT_FAILED: OrderStatus.FAILED,
}


def event_id(order_id: str, event_type: str) -> str:
    digest = hashlib.sha256(f"{order_id}:{event_type}".encode()).hexdigest()
    return f"evt_{digest[:24]}"


def payment_event(order: Order, outcome: Outcome, created_at: datetime) -> dict[str, Any]:
    """The event body for a payment outcome (DESIGN §1.3): plain data, encoded by the caller."""
    event_type = EventType.PAYMENT_SUCCEEDED if outcome.succeeded else EventType.PAYMENT_FAILED
    data = _order_data(order, TARGET_STATUS[event_type])
    if not outcome.succeeded:
        data["failureCode"] = outcome.failure_code
        data["failureMessage"] = outcome.failure_message
    return _event(event_id(order.id, event_type), event_type, created_at, data)


def order_canceled_event(order: Order, created_at: datetime) -> dict[str, Any]:
    """`order.canceled`: the order will never be paid."""
    data = _order_data(order, OrderStatus.CANCELED)
    data["canceledAt"] = None if order.canceled_at is None else isoformat(order.canceled_at)
    return _event(
        event_id(order.id, EventType.ORDER_CANCELED), EventType.ORDER_CANCELED, created_at, data
    )


def refund_succeeded_event(refund: Refund, created_at: datetime) -> dict[str, Any]:
    """`refund.succeeded`: `amount` is what this refund gave back, not the order's total."""
    data: dict[str, Any] = {
        "refundId": refund.id,
        "orderId": refund.order_id,
        "orderNumber": refund.order_number,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
    }
    event_type = EventType.REFUND_SUCCEEDED
    return _event(event_id(refund.id, event_type), event_type, created_at, data)


def _order_data(order: Order, status: OrderStatus) -> dict[str, Any]:
    return {
        "orderId": order.id,
        "orderNumber": order.order_number,
        "amount": order.amount,
        "currency": order.currency,
        "paymentMethod": order.payment_method,
        "status": status.value,
    }


def _event(
    id_: str, event_type: EventType, created_at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return {"id": id_, "type": event_type.value, "createdAt": isoformat(created_at), "data": data}
