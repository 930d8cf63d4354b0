"""Wire shapes of events and deliveries (camelCase msgspec Structs)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from payflow.store.base import Delivery
from payflow.timefmt import isoformat


class EventDataOut(msgspec.Struct, rename="camel"):
    order_id: str
    order_number: str
    amount: Decimal
    currency: str
    payment_method: str
    status: str
    failure_code: str | None = None
    failure_message: str | None = None


class EventOut(msgspec.Struct, rename="camel"):
    """An event as the gateway signed and sent it (documentation shape: the body served
    is the stored signed bytes themselves)."""

    id: str
    type: str
    created_at: str
    data: EventDataOut


class AttemptOut(msgspec.Struct, rename="camel"):
    at: str
    attempt: int
    status_code: int | None
    latency_ms: float
    error: str | None
    response: str


class DeliveryOut(msgspec.Struct, rename="camel"):
    """One event on its way to one endpoint, with every attempt so far."""

    id: str
    event_id: str
    event_type: str
    order_number: str
    endpoint_id: str
    url: str
    state: str
    attempts: int
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None
    log: list[AttemptOut]


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        order_number=delivery.order_number,
        endpoint_id=delivery.endpoint_id,
        url=delivery.url,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=None
        if delivery.next_attempt_at is None
        else isoformat(delivery.next_attempt_at),
        created_at=isoformat(delivery.created_at),
        delivered_at=None if delivery.delivered_at is None else isoformat(delivery.delivered_at),
        log=[
            AttemptOut(
                at=isoformat(a.at),
                attempt=a.number,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                response=a.response_excerpt,
            )
            for a in delivery.log
        ],
    )
