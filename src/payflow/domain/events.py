"""Webhook events the simulated gateway emits: types, deterministic ids and bodies.

An event id is a hash of its subject (the order, or the refund) and the event type, so
re-running a step after a crash produces the very same event, and the receiver
recognises it as a duplicate.

An event is a typed `Event` from the moment it is built until `payflow.codec.encode`
turns it into the bytes that are stored, signed and sent. Fields are declared in wire
order and renamed to camelCase, so those bytes are what the dictionaries they replace
produced (tests/unit/test_event_bytes.py pins them).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from payflow.domain.orders import Order, OrderStatus
from payflow.domain.payment_methods import Outcome
from payflow.domain.refunds import Refund
from payflow.timefmt import isoformat


class EventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_AUTHORIZED = "payment.authorized"  # manual capture: the money is held
    PAYMENT_CAPTURED = "payment.captured"  # an authorization captured (POST …/capture)
    ORDER_CANCELED = "order.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"
    ENDPOINT_DISABLED = "endpoint.disabled"


# Events about orders: what payflow's own receiver understands.
ORDER_EVENT_TYPES = tuple(t.value for t in EventType if not t.startswith("endpoint."))


# What each event type does to a Pending order on the receiving side.
TARGET_STATUS: dict[str, OrderStatus] = {
    EventType.PAYMENT_SUCCEEDED: OrderStatus.PAID,
    EventType.PAYMENT_FAILED: OrderStatus.FAILED,
    EventType.PAYMENT_AUTHORIZED: OrderStatus.AUTHORIZED,
}


def event_id(order_id: str, event_type: str) -> str:
    digest = hashlib.sha256(f"{order_id}:{event_type}".encode()).hexdigest()
    return f"evt_{digest[:24]}"


class OrderData(msgspec.Struct, rename="camel"):
    """`data` of an event about an order: the order as the event leaves it."""

    order_id: str
    order_number: str
    amount: Decimal
    currency: str
    payment_method: str
    status: OrderStatus


class PaymentFailedData(OrderData):
    """`payment.failed` also says why (Stripe's decline codes)."""

    failure_code: str | None
    failure_message: str | None


class OrderCanceledData(OrderData):
    canceled_at: str | None


class ExpiredOrCanceledData(OrderCanceledData):
    """`order.canceled` of an authorization, which also says why (Stripe's reasons)."""

    cancellation_reason: str | None


class CapturedData(OrderData):
    """`payment.captured`: what the capture took (the rest went back to the payer)."""

    amount_captured: Decimal


class RefundData(msgspec.Struct, rename="camel"):
    """`data` of `refund.succeeded`: `amount` is what this refund gave back."""

    refund_id: str
    order_id: str
    order_number: str
    amount: Decimal
    currency: str
    status: str
    reason: str | None


class EndpointData(msgspec.Struct, rename="camel"):
    """`data` of `endpoint.disabled`: which endpoint stopped receiving, since when."""

    endpoint_id: str
    url: str
    failing_since: str | None
    disabled_at: str


class Event(msgspec.Struct, rename="camel"):
    """One event as it goes on the wire (DESIGN §1.3)."""

    id: str
    type: EventType
    created_at: str  # `timefmt.isoformat`: milliseconds and `Z`, as every payflow time
    data: OrderData | RefundData | EndpointData


def payment_event(
    order: Order, outcome: Outcome, created_at: datetime, *, authorize: bool = False
) -> Event:
    """The event for a payment outcome (DESIGN §1.3); `authorize`: a manual capture's
    success is an authorization (`payment.authorized`, DESIGN §7)."""
    if not outcome.succeeded:
        event_type = EventType.PAYMENT_FAILED
    elif authorize:
        event_type = EventType.PAYMENT_AUTHORIZED
    else:
        event_type = EventType.PAYMENT_SUCCEEDED
    status = TARGET_STATUS[event_type]
    data: OrderData
    if outcome.succeeded:
        data = OrderData(*_order_fields(order), status)
    else:
        data = PaymentFailedData(
            *_order_fields(order), status, outcome.failure_code, outcome.failure_message
        )
    return _event(event_id(order.id, event_type), event_type, created_at, data)


def order_canceled_event(order: Order, created_at: datetime) -> Event:
    """`order.canceled`: the order will never be paid."""
    canceled_at = None if order.canceled_at is None else isoformat(order.canceled_at)
    data: OrderCanceledData
    if order.cancellation_reason is None:  # the bytes every Pending cancel always had
        data = OrderCanceledData(*_order_fields(order), OrderStatus.CANCELED, canceled_at)
    else:
        data = ExpiredOrCanceledData(
            *_order_fields(order), OrderStatus.CANCELED, canceled_at, order.cancellation_reason
        )
    event_type = EventType.ORDER_CANCELED
    return _event(event_id(order.id, event_type), event_type, created_at, data)


def payment_captured_event(order: Order, created_at: datetime) -> Event:
    """`payment.captured`: an Authorized order captured, in full or in part."""
    data = CapturedData(*_order_fields(order), OrderStatus.PAID, order.amount_captured)
    event_type = EventType.PAYMENT_CAPTURED
    return _event(event_id(order.id, event_type), event_type, created_at, data)


def refund_succeeded_event(refund: Refund, created_at: datetime) -> Event:
    """`refund.succeeded`: `amount` is what this refund gave back, not the order's total."""
    data = RefundData(
        refund_id=refund.id,
        order_id=refund.order_id,
        order_number=refund.order_number,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
    )
    event_type = EventType.REFUND_SUCCEEDED
    return _event(event_id(refund.id, event_type), event_type, created_at, data)


def endpoint_disabled_event(
    endpoint_id: str, url: str, failing_since: datetime | None, disabled_at: datetime
) -> Event:
    """`endpoint.disabled`, to the other endpoints; one id per disabling (re-runs match)."""
    event_type = EventType.ENDPOINT_DISABLED
    data = EndpointData(
        endpoint_id=endpoint_id,
        url=url,
        failing_since=None if failing_since is None else isoformat(failing_since),
        disabled_at=isoformat(disabled_at),
    )
    subject = f"{endpoint_id}@{isoformat(disabled_at)}"
    return _event(event_id(subject, event_type), event_type, disabled_at, data)


def _order_fields(order: Order) -> tuple[str, str, Decimal, str, str]:
    """The fields every order event's data starts with, in wire order (before `status`)."""
    return order.id, order.order_number, order.amount, order.currency, order.payment_method


def _event(
    id_: str,
    event_type: EventType,
    created_at: datetime,
    data: OrderData | RefundData | EndpointData,
) -> Event:
    return Event(id=id_, type=event_type, created_at=isoformat(created_at), data=data)
