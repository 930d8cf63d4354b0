"""OpenAPI for cancel and refunds beyond what Litestar infers.

Both POST handlers read their body as raw bytes (exact decimals, the idempotency
fingerprint), so their request bodies, the required `Idempotency-Key` and the
examples Swagger shows are added here, derived from the Structs that decode them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

from payflow.api.docs import JSON, struct_schema
from payflow.api.refund_schemas import CancelOrderRequest, CreateRefundRequest
from payflow.domain.money import MAX_AMOUNT
from payflow.idempotency import MAX_KEY_LENGTH


def example_response(model: Any, description: str, **examples: Any) -> ResponseSpec:
    return ResponseSpec(
        model,
        description=description,
        generate_examples=False,
        examples=[Example(summary=name, value=value) for name, value in examples.items()],
    )


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
    # Litestar's spec classes pass plain dicts through to the JSON document unchanged.
    return RequestBody(
        required=False,
        description=description,
        content={
            JSON: OpenAPIMediaType(
                schema=cast("Schema", schema),
                examples={name: Example(value=value) for name, value in examples.items()},
            )
        },
    )


def _idempotency_key(operation: Operation) -> None:
    # The handler checks the key itself (so a missing key is `idempotency-key-missing`).
    others = [p for p in operation.parameters or [] if getattr(p, "name", "") != "Idempotency-Key"]
    key = Parameter(
        name="Idempotency-Key",
        param_in="header",
        required=True,
        description=f"Required: 1-{MAX_KEY_LENGTH} visible ASCII characters",
        schema=Schema(
            type=OpenAPIType.STRING,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
        ),
    )
    operation.parameters = [key, *others]


def _response_header(
    operation: Operation, status: int, name: str, description: str, *, required: bool = False
) -> None:
    response = (operation.responses or {}).get(str(status))
    if isinstance(response, OpenAPIResponse):
        kind = OpenAPIType.INTEGER if name == "Retry-After" else OpenAPIType.STRING
        header = OpenAPIHeader(schema=Schema(type=kind), description=description, required=required)
        response.headers = {**(response.headers or {}), name: header}


def _idempotent_post(operation: Operation, success: int) -> None:
    _idempotency_key(operation)
    _response_header(
        operation, success, "Idempotent-Replayed", "`true` on a replay of the first response"
    )
    _response_header(
        operation, 409, "Retry-After", "Seconds to wait (idempotency-in-progress only)"
    )


@dataclass
class CancelOrderOperation(Operation):
    """`POST /api/orders/{orderNumber}/cancel`: no body (or `{}`), the required key."""

    def __post_init__(self) -> None:
        self.request_body = _optional_body(
            struct_schema(CancelOrderRequest), "Nothing, or an empty object", empty={}
        )
        _idempotent_post(self, 200)


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
        _idempotent_post(self, 201)
        _response_header(
            self, 201, "Location", "/api/orders/{orderNumber}/refunds/{refundId}", required=True
        )
