"""Wire shapes of `/api/orders` (camelCase msgspec Structs) and the create body's parser."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from payflow.api.body import convert_body
from payflow.api.idempotent import stored_json
from payflow.domain.money import DEFAULT_CURRENCY, MoneyError, exponent, parse_amount, quantize
from payflow.domain.orders import ORDER_NUMBER_PATTERN, Order
from payflow.domain.payment_methods import DEFAULT_PAYMENT_METHOD, OUTCOMES, is_known
from payflow.errors import ValidationFailed
from payflow.store.base import StoredResponse
from payflow.timefmt import isoformat

MetadataKey = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[^$.\x00][^.\x00]*$")]
MetadataValue = Annotated[str, Meta(max_length=500)]
MAX_PROCESSING_DELAY_MS = 600_000  # ten minutes


class CreateOrderRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/orders`."""

    order_number: Annotated[
        str,
        Meta(
            pattern=ORDER_NUMBER_PATTERN,
            description="1-64 chars [A-Za-z0-9._:-], unique per API key",
        ),
    ]
    amount: Annotated[
        Decimal,
        Meta(
            description="JSON number, exact, at most the currency's minor digits",
            examples=[149.99],
        ),
    ]
    currency: Annotated[
        str,
        Meta(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, any letter case; answered upper"),
    ] = DEFAULT_CURRENCY
    payment_method: Annotated[
        str, Meta(description="test payment method", examples=["pm_card_visa"])
    ] = DEFAULT_PAYMENT_METHOD
    metadata: Annotated[dict[MetadataKey, MetadataValue], Meta(max_length=20)] = msgspec.field(
        default_factory=dict
    )
    processing_delay_ms: (
        Annotated[
            int,
            Meta(
                ge=0,
                le=MAX_PROCESSING_DELAY_MS,
                description=(
                    "Simulated time to the payment outcome for this order alone, instead of "
                    "[processing] delay_seconds: 0 for fast tests, long for slow ones"
                ),
                examples=[0],
            ),
        ]
        | None
    ) = None


class CancelOrderRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/orders/{orderNumber}/cancel`: nothing, or an empty object."""


class OrderOut(msgspec.Struct, rename="camel"):
    """An order as every endpoint returns it."""

    id: str
    order_number: str
    amount: Decimal
    currency: str
    status: str
    payment_method: str
    created_at: str
    updated_at: str
    paid_at: str | None
    amount_refunded: Decimal
    canceled_at: str | None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class AuditEntryOut(msgspec.Struct, rename="camel"):
    """One webhook receipt in an order's audit trail."""

    id: str
    received_at: str
    outcome: str
    event_id: str | None
    type: str | None
    scheme: str | None
    detail: str | None


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        order_number=order.order_number,
        amount=order.amount,
        currency=order.currency,
        status=order.status.value,
        payment_method=order.payment_method,
        created_at=isoformat(order.created_at),
        updated_at=isoformat(order.updated_at),
        paid_at=None if order.paid_at is None else isoformat(order.paid_at),
        amount_refunded=quantize(order.amount_refunded, order.currency),
        canceled_at=None if order.canceled_at is None else isoformat(order.canceled_at),
        failure_code=order.failure_code,
        failure_message=order.failure_message,
        metadata=order.metadata,
    )


def created(order: Order) -> StoredResponse:
    """The 201 a create stores with its order and replays."""
    return stored_json(201, order_out(order), f"/api/orders/{order.order_number}")


def parse_create_order(payload: dict[str, Any]) -> CreateOrderRequest:
    """Validate a create-order body; every problem becomes a 400 with field errors."""
    request = convert_body(payload, CreateOrderRequest, exact=("amount",))
    request.currency = request.currency.upper()  # `usd` is Stripe's spelling
    errors: list[dict[str, str]] = []
    currency_ok = True
    try:
        exponent(request.currency)
    except MoneyError as exc:
        errors.append({"field": "currency", "message": str(exc)})
        currency_ok = False
    if currency_ok:
        try:
            request.amount = parse_amount(payload.get("amount"), request.currency)
        except MoneyError as exc:
            errors.append({"field": "amount", "message": str(exc)})
    if not is_known(request.payment_method):
        known = ", ".join(sorted(OUTCOMES))
        errors.append(
            {
                "field": "paymentMethod",
                "message": f"unknown test payment method; use one of {known}",
            }
        )
    if errors:
        raise ValidationFailed(errors)
    return request
