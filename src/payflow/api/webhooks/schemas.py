"""Wire shapes of the payment-webhook receiver (camelCase msgspec Structs)."""

from __future__ import annotations

from typing import Any

import msgspec

from payflow.domain.money import DEFAULT_CURRENCY


class WebhookAck(msgspec.Struct, rename="camel"):
    received: bool
    event_id: str
    outcome: str


class WebhookData(msgspec.Struct, rename="camel"):
    order_number: str
    amount: Any
    currency: str = DEFAULT_CURRENCY
    failure_code: str | None = None
    failure_message: str | None = None
    # payflow's own events carry it; others may not (then the number must be unambiguous).
    order_id: str | None = None


class WebhookEvent(msgspec.Struct, rename="camel"):
    """A payment event as the receiver accepts it; unknown fields are allowed (senders vary)."""

    type: str
    data: WebhookData
    id: str | None = None
    created_at: str | None = None
