"""OpenAPI of `/api/orders` beyond what Litestar infers from the types.

The create and cancel bodies are read as raw bytes by the idempotent-POST helper, so
they are documented here from the Structs that decode them, with the rules payflow
checks outside msgspec (an exact amount, the known currencies and payment methods).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product
from typing import Any

from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import request_body, struct_schema, with_exact_amount
from payflow.api.orders.schemas import (
    CancelOrderRequest,
    CaptureOrderRequest,
    CreateOrderRequest,
)
from payflow.domain.money import CURRENCY_EXPONENTS
from payflow.domain.orders import BALANCE
from payflow.domain.payment_methods import OUTCOMES
from payflow.domain.saved_methods import SAVED_METHOD_ID_RE


def every_spelling(codes: Iterable[str]) -> list[str]:
    """Each code in every letter case the API accepts: upper case first, then lower
    (Stripe's), then the mixed ones, so a generated client or fuzzer knows them all."""
    upper = sorted(code.upper() for code in codes)
    spellings = {
        "".join(letters) for code in upper for letters in product(*((c, c.lower()) for c in code))
    }
    lower = [code.lower() for code in upper]
    return [*upper, *lower, *sorted(spellings - set(upper) - set(lower))]


def create_order_schema() -> dict[str, Any]:
    schema = with_exact_amount(
        CreateOrderRequest, "at most the currency's minor digits (USD 2, JPY 0, KWD 3)", 149.99
    )
    properties = schema["properties"]
    properties["currency"]["enum"] = every_spelling(CURRENCY_EXPONENTS)
    method = properties["paymentMethod"]
    properties["paymentMethod"] = {
        "description": method.get("description", ""),
        "anyOf": [
            {"type": "string", "enum": [*sorted(OUTCOMES), BALANCE]},
            {"type": "string", "pattern": f"^{SAVED_METHOD_ID_RE.pattern}$"},
        ],
        "default": method.get("default"),
    }
    return schema


CreateOrderOperation = idempotent_post_operation(
    201,
    request_body(create_order_schema(), "The order to create"),
    location="/api/orders/{orderNumber}",
)
CancelOrderOperation = idempotent_post_operation(
    200,
    request_body(
        struct_schema(CancelOrderRequest),
        "Nothing, an empty object, or a reason",
        required=False,
        empty={},
    ),
)


def capture_order_schema() -> dict[str, Any]:
    return with_exact_amount(
        CaptureOrderRequest, "at most amountCapturable; default all of it", 100.00
    )


CaptureOrderOperation = idempotent_post_operation(
    200,
    request_body(
        capture_order_schema(), "Nothing, an empty object, or an amount", required=False, empty={}
    ),
)
CANCELED_EXAMPLE: dict[str, Any] = {
    "id": "ord_5e8f2a1b9c3d4e6f7a8b9c0d",
    "orderNumber": "ORD-67890",
    "amount": 149.99,
    "currency": "USD",
    "status": "Canceled",
    "paymentMethod": "pm_card_visa",
    "createdAt": "2026-11-22T20:47:01.123Z",
    "updatedAt": "2026-11-22T20:47:01.876Z",
    "paidAt": None,
    "amountRefunded": 0.00,
    "canceledAt": "2026-11-22T20:47:01.876Z",
    "failureCode": None,
    "failureMessage": None,
    "metadata": {},
    "customer": None,
    "captureMethod": "automatic",
    "amountCapturable": 0.00,
    "amountCaptured": 0.00,
    "cancellationReason": None,
}
CAPTURED_EXAMPLE: dict[str, Any] = {
    **CANCELED_EXAMPLE,
    "amount": 149.99,
    "status": "Paid",
    "paymentMethod": "balance",
    "paidAt": "2026-11-22T20:47:05.432Z",
    "updatedAt": "2026-11-22T20:47:05.432Z",
    "canceledAt": None,
    "customer": "cus_9f8e7d6c5b4a39281706f5e4",
    "captureMethod": "manual",
    "amountCaptured": 100.00,
}
