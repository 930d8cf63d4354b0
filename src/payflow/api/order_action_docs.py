"""OpenAPI for cancel and refunds beyond what Litestar infers.

Both POST handlers read their body as raw bytes (exact decimals, the idempotency
fingerprint), so their request bodies, the required `Idempotency-Key` and the
examples Swagger shows are added here, derived from the Structs that decode them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import Example, Operation, RequestBody

from payflow.api.docs import (
    document_idempotent_post,
    json_body,
    response_header,
    struct_schema,
)
from payflow.api.refund_schemas import CancelOrderRequest, CreateRefundRequest
from payflow.domain.money import MAX_AMOUNT


def refund_request_schema() -> dict[str, Any]:
    schema = struct_schema(CreateRefundRequest)
    schema["properties"]["amount"] = {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": float(MAX_AMOUNT),
        "description": (
            "JSON number (a string is rejected), exact, at most the order currency's minor "
            "digits; default: all that is left to refund"
        ),
        "examples": [10.00],
    }
    return schema


def _optional_body(schema: dict[str, Any], description: str, **examples: Any) -> RequestBody:
    named = {name: Example(value=value) for name, value in examples.items()}
    return json_body(schema, description, required=False, examples=named)


@dataclass
class CancelOrderOperation(Operation):
    """`POST /api/orders/{orderNumber}/cancel`: no body (or `{}`), the required key."""

    def __post_init__(self) -> None:
        self.request_body = _optional_body(
            struct_schema(CancelOrderRequest), "Nothing, or an empty object", empty={}
        )
        document_idempotent_post(self, 200)


@dataclass
class CreateRefundOperation(Operation):
    """`POST /api/orders/{orderNumber}/refunds`: the optional amount, the required key."""

    def __post_init__(self) -> None:
        self.request_body = _optional_body(
            refund_request_schema(),
            "How much to refund; an empty body (or `{}`) refunds all that is left",
            partial={"amount": 10.00, "reason": "requested_by_customer"},
            rest={},
        )
        document_idempotent_post(self, 201)
        response_header(
            self, 201, "Location", "/api/orders/{orderNumber}/refunds/{refundId}", required=True
        )
