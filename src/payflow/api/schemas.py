"""Wire shapes (msgspec Structs, camelCase) and the exact JSON codec at the edge.

Requests are decoded with JSON numbers kept exact (`float_hook=Decimal`), then
converted into Structs that forbid unknown fields; amounts get their own check in
`domain.money` because a JSON string must not pass as a number. Responses are
encoded here too, so every body payflow sends (and replays) has one byte form.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from payflow.codec import decode
from payflow.domain.money import DEFAULT_CURRENCY, MoneyError, exponent, parse_amount, quantize
from payflow.domain.orders import ORDER_NUMBER_PATTERN, Order
from payflow.domain.payment_methods import DEFAULT_PAYMENT_METHOD, OUTCOMES, is_known
from payflow.errors import ValidationFailed
from payflow.timefmt import isoformat

MetadataKey = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[^$.\x00][^.\x00]*$")]
MetadataValue = Annotated[str, Meta(max_length=500)]
# Amounts go out as JSON numbers (`decimal_format="number"`); `api.docs.DecimalAsNumber`
# documents every Decimal so in OpenAPI.
AmountOut = Decimal
MAX_PROCESSING_DELAY_MS = 600_000  # ten minutes


class CreateOrderRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/orders`."""

    order_number: Annotated[
        str, Meta(pattern=ORDER_NUMBER_PATTERN, description="1-64 chars [A-Za-z0-9._:-], unique")
    ]
    amount: Annotated[
        Decimal,
        Meta(
            description="JSON number, exact, at most the currency's minor digits",
            examples=[149.99],
        ),
    ]
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217")] = DEFAULT_CURRENCY
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


class OrderOut(msgspec.Struct, rename="camel"):
    """An order as every endpoint returns it."""

    id: str
    order_number: str
    amount: AmountOut
    currency: str
    status: str
    payment_method: str
    created_at: str
    updated_at: str
    paid_at: str | None
    amount_refunded: AmountOut
    canceled_at: str | None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem as every error response carries it (documentation shape)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class EventDataOut(msgspec.Struct, rename="camel"):
    order_id: str
    order_number: str
    amount: AmountOut
    currency: str
    payment_method: str
    status: str
    failure_code: str | None = None
    failure_message: str | None = None


class EventOut(msgspec.Struct, rename="camel"):
    """An event as the gateway signed and sent it (documentation shape)."""

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


class AuditEntryOut(msgspec.Struct, rename="camel"):
    """One webhook receipt in an order's audit trail."""

    id: str
    received_at: str
    outcome: str
    event_id: str | None
    type: str | None
    scheme: str | None
    detail: str | None


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


class WebhookEvent(msgspec.Struct, rename="camel"):
    """A payment event as the receiver accepts it; unknown fields are allowed (senders vary)."""

    type: str
    data: WebhookData
    id: str | None = None
    created_at: str | None = None


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


def _unreadable(message: str) -> ValidationFailed:
    return ValidationFailed(
        [{"field": "body", "message": f"malformed JSON: {message}"}],
        detail="The request body is not valid JSON.",
    )


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, numbers exact."""
    try:
        value = decode(body)
    except msgspec.DecodeError as exc:
        message = str(exc)
        if "out of range" in message:
            message = "a number is too large"
        raise _unreadable(message) from None
    # msgspec lets these through: invalid UTF-8 in a string, nesting deeper than the
    # interpreter allows, a number whose exponent `Decimal` cannot hold (1e-99999999999999999999).
    except UnicodeDecodeError:
        raise _unreadable("not valid UTF-8") from None
    except RecursionError:
        raise _unreadable("nested too deeply") from None
    except ArithmeticError:
        raise _unreadable("a number is out of range") from None
    if not isinstance(value, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    return value


_T = TypeVar("_T")
_FIELD_AT = re.compile(r"^(?P<message>.*?) - at `\$(?P<path>[^`]*)`$")
_FIELD_NAMED = re.compile(r"field `(?P<field>[^`]*)`")


def _field_error(exc: msgspec.ValidationError) -> dict[str, str]:
    text = str(exc)
    if match := _FIELD_AT.match(text):
        path = match["path"].lstrip(".")
        return {"field": path or "body", "message": match["message"]}
    if match := _FIELD_NAMED.search(text):
        return {"field": match["field"], "message": text}
    return {"field": "body", "message": text}


def convert_body(payload: dict[str, Any], shape: type[_T]) -> _T:
    """Convert a decoded body into a request Struct; a mismatch is a 400 with the field."""
    try:
        return msgspec.convert(payload, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed([_field_error(exc)]) from None


def parse_create_order(payload: dict[str, Any]) -> CreateOrderRequest:
    """Validate a create-order body; every problem becomes a 400 with field errors."""
    errors: list[dict[str, str]] = []
    raw_amount = payload.get("amount")
    shaped = dict(payload)
    if "amount" in payload:
        shaped["amount"] = Decimal(1)  # checked exactly below; keep msgspec off it
    try:
        request = msgspec.convert(shaped, CreateOrderRequest, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed([_field_error(exc)]) from None
    currency_ok = True
    try:
        exponent(request.currency)
    except MoneyError as exc:
        errors.append({"field": "currency", "message": str(exc)})
        currency_ok = False
    if currency_ok:
        try:
            request.amount = parse_amount(raw_amount, request.currency)
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
