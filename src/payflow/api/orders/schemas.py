"""Wire shapes of `/api/orders` (camelCase msgspec Structs) and the create body's parser."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from payflow.api.body import convert_body
from payflow.api.idempotent import stored_json
from payflow.domain.money import (
    DEFAULT_CURRENCY,
    MoneyError,
    exponent,
    parse_amount,
    quantize,
    to_minor,
)
from payflow.domain.orders import BALANCE, ORDER_NUMBER_PATTERN, CaptureMethod, Order
from payflow.domain.payment_methods import DEFAULT_PAYMENT_METHOD, OUTCOMES, is_known
from payflow.domain.saved_methods import is_saved_method_id
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
        str,
        Meta(
            description=(
                "test payment method (pm_card_…), a saved card (pm_… of the order's customer), "
                "or `balance` (the customer's wallet)"
            ),
            examples=["pm_card_visa"],
        ),
    ] = DEFAULT_PAYMENT_METHOD
    metadata: Annotated[dict[MetadataKey, MetadataValue], Meta(max_length=20)] = msgspec.field(
        default_factory=dict
    )
    customer: (
        Annotated[str, Meta(max_length=64, description="cus_… that pays; required with `balance`")]
        | None
    ) = None
    capture_method: Annotated[
        CaptureMethod,
        Meta(description="automatic (pay at once) or manual (authorize, then capture)"),
    ] = CaptureMethod.AUTOMATIC
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
    """Body of `POST /api/orders/{orderNumber}/cancel`: nothing, or a Stripe reason."""

    reason: (
        Annotated[
            Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"],
            Meta(description="why; an Authorized order's cancel says requested_by_customer"),
        ]
        | None
    ) = None


class CaptureOrderRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/orders/{orderNumber}/capture`: nothing, or the amount to take."""

    amount: (
        Annotated[
            Decimal,
            Meta(description="≤ amountCapturable; default all of it", examples=[100.00]),
        ]
        | None
    ) = None


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
    customer: str | None = None
    capture_method: str = CaptureMethod.AUTOMATIC.value
    amount_capturable: Decimal = Decimal(0)
    amount_captured: Decimal = Decimal(0)
    cancellation_reason: str | None = None


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
        customer=order.customer,
        capture_method=order.capture_method.value,
        amount_capturable=order.amount_capturable,
        amount_captured=order.amount_captured,
        cancellation_reason=order.cancellation_reason,
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
    if request.payment_method == BALANCE:
        if request.customer is None:
            errors.append({"field": "customer", "message": "required to pay with `balance`"})
    elif not (is_known(request.payment_method) or is_saved_method_id(request.payment_method)):
        known = ", ".join(sorted(OUTCOMES))
        errors.append(
            {
                "field": "paymentMethod",
                "message": (
                    f"unknown payment method; use a saved pm_…, `balance`, or one of {known}"
                ),
            }
        )
    if errors:
        raise ValidationFailed(errors)
    return request


def capture_amount(payload: dict[str, Any] | None, order: Order) -> int | None:
    """The minor units a capture body asks for (None: all), checked against the order (400)."""
    if not payload or payload.get("amount") is None:
        return None
    try:
        minor = to_minor(parse_amount(payload["amount"], order.currency), order.currency)
    except MoneyError as exc:
        raise ValidationFailed([{"field": "amount", "message": str(exc)}]) from None
    capturable = to_minor(order.amount_capturable, order.currency)
    if capturable and minor > capturable:
        raise ValidationFailed(
            [
                {
                    "field": "amount",
                    "message": f"more than the {order.amount_capturable} {order.currency} "
                    "capturable",
                }
            ]
        )
    return minor
