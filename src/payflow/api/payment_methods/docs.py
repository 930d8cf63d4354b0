"""OpenAPI of saved payment methods: the raw-bytes bodies and the examples."""

from __future__ import annotations

from typing import Any

from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import request_body, struct_schema
from payflow.api.payment_methods.schemas import (
    AttachRequest,
    CreatePaymentMethodRequest,
    DetachRequest,
)

CreatePaymentMethodOperation = idempotent_post_operation(
    201,
    request_body(
        struct_schema(CreatePaymentMethodRequest),
        "The card to save; the number and CVC are never stored or returned",
        for_customer={
            "type": "card",
            "card": {
                "number": "4242 4242 4242 4242",
                "expMonth": 12,
                "expYear": 2030,
                "cvc": "123",
            },
            "customer": "cus_4f2a9c1e7b3d5a8f6e0c2b1d",
            "billingDetails": {"name": "Jenny Rosen", "email": "jenny@example.com"},
        },
        unattached={
            "type": "card",
            "card": {"number": "5555-5555-5555-4444", "expMonth": 3, "expYear": 2031},
        },
    ),
    location="/api/payment-methods/{id}",
)
AttachOperation = idempotent_post_operation(
    200,
    request_body(
        struct_schema(AttachRequest),
        "The customer to attach to",
        attach={"customer": "cus_4f2a9c1e7b3d5a8f6e0c2b1d"},
    ),
)
DetachOperation = idempotent_post_operation(
    200,
    request_body(
        struct_schema(DetachRequest), "Nothing, or an empty object", required=False, empty={}
    ),
)
_BILLING: dict[str, Any] = {
    "address": None,
    "email": "jenny@example.com",
    "name": "Jenny Rosen",
    "phone": None,
}
ATTACHED_EXAMPLE: dict[str, Any] = {
    "id": "pm_1a2b3c4d5e6f7a8b9c0d1e2f",
    "type": "card",
    "card": {
        "brand": "visa",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2030,
        "funding": "credit",
        "fingerprint": "Xt5EWLLDS7FJjR1c",
    },
    "customer": "cus_4f2a9c1e7b3d5a8f6e0c2b1d",
    "billingDetails": _BILLING,
    "createdAt": "2026-11-22T20:47:01.123Z",
}
PAYMENT_METHOD_EXAMPLE = ATTACHED_EXAMPLE
DETACHED_EXAMPLE: dict[str, Any] = {**ATTACHED_EXAMPLE, "customer": None}
