"""Webhook events the simulated gateway emits: types, deterministic ids and bodies.

An event id is a hash of the order id and the event type, so re-running a step after
a crash produces the very same event, and the receiver recognises it as a duplicate.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from payflow.domain.orders import Order, OrderStatus
from payflow.domain.payment_methods import Outcome
from payflow.timefmt import isoformat


class EventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"


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
    data: dict[str, Any] = {
        "orderId": order.id,
        "orderNumber": order.order_number,
        "amount": order.amount,
        "currency": order.currency,
        "paymentMethod": order.payment_method,
        "status": TARGET_STATUS[event_type].value,
    }
    if not outcome.succeeded:
        data["failureCode"] = outcome.failure_code
        data["failureMessage"] = outcome.failure_message
    return {
        "id": event_id(order.id, event_type),
        "type": event_type.value,
        "createdAt": isoformat(created_at),
        "data": data,
    }
