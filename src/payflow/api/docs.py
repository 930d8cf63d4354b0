"""What `/swagger/openapi.json` says beyond what Litestar infers from the handlers.

Two handlers read their body as raw bytes (exact decimals, signatures over the raw
bytes), so Litestar cannot see their request bodies; their Operation classes add
them, derived from the msgspec Structs that really decode the body. Every error a
route can answer is documented as `application/problem+json`, so a client
generated from the schema (or a fuzzer checking responses against it) sees what
payflow really sends. The other routes' Operation classes (`endpoint_docs`,
`order_action_docs`) build from the helpers here, so every idempotent POST is
documented alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import msgspec
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
from litestar.plugins import OpenAPISchemaPlugin

from payflow.api.schemas import CreateOrderRequest, Problem, WebhookEvent
from payflow.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from payflow.domain.payment_methods import OUTCOMES
from payflow.idempotency import MAX_KEY_LENGTH

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "validation-error (with `errors`): the request breaks the contract",
    401: "invalid-signature: missing, malformed, stale or non-matching signature",
    404: "not-found",
    409: "order-exists, or idempotency-in-progress (with Retry-After)",
    413: "payload-too-large",
    422: "idempotency-key-reused: the key was first used with another body",
    503: "service-unavailable: nothing was changed; retry later",
}


class DecimalAsNumber(OpenAPISchemaPlugin):
    """Every `Decimal` payflow sends is a JSON number (`decimal_format="number"`), not a string."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        return Schema(type=OpenAPIType.NUMBER)


def problems(*statuses: int, **descriptions: str) -> dict[int, ResponseSpec]:
    """`responses=` entries for the problem statuses a route can answer."""
    return {
        status: ResponseSpec(
            Problem,
            description=descriptions.get(f"s{status}", PROBLEM_DESCRIPTIONS[status]),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """msgspec's JSON Schema with `#/$defs/…` references replaced by the definitions."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def struct_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    document = msgspec.json.schema(struct)
    inlined: dict[str, Any] = _inline(document, document.get("$defs", {}))
    inlined.pop("$defs", None)
    return inlined


def create_order_schema() -> dict[str, Any]:
    """`CreateOrderRequest`, plus the rules payflow checks outside msgspec (money, enums)."""
    schema = struct_schema(CreateOrderRequest)
    properties = schema["properties"]
    properties["amount"] = {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": float(MAX_AMOUNT),
        "description": (
            "JSON number (a string is rejected), exact, at most the currency's minor digits "
            "(USD 2, JPY 0, KWD 3)"
        ),
        "examples": [149.99],
    }
    properties["currency"]["enum"] = sorted(CURRENCY_EXPONENTS)
    properties["paymentMethod"]["enum"] = sorted(OUTCOMES)
    return schema


def example_response(model: Any, description: str, **examples: Any) -> ResponseSpec:
    """A response documented by the named examples given, not by generated ones."""
    return ResponseSpec(
        model,
        description=description,
        generate_examples=False,
        examples=[Example(summary=name, value=value) for name, value in examples.items()],
    )


def json_body(
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = True,
    examples: dict[str, Example] | None = None,
) -> RequestBody:
    # Litestar's spec classes pass plain dicts through to the JSON document unchanged.
    media = OpenAPIMediaType(schema=cast("Schema", schema), examples=cast("Any", examples))
    return RequestBody(required=required, description=description, content={JSON: media})


def _header(name: str, description: str, required: bool = False, **schema: Any) -> Parameter:
    return Parameter(
        name=name,
        param_in="header",
        required=required,
        description=description,
        schema=Schema(type=OpenAPIType.STRING, **schema),
    )


def response_header(
    operation: Operation,
    status: int,
    name: str,
    description: str,
    *,
    required: bool = False,
    kind: OpenAPIType = OpenAPIType.STRING,
) -> None:
    response = (operation.responses or {}).get(str(status))
    if isinstance(response, OpenAPIResponse):
        header = OpenAPIHeader(schema=Schema(type=kind), description=description, required=required)
        response.headers = {**(response.headers or {}), name: header}


def require_idempotency_key(operation: Operation) -> None:
    """Document the key as required: the handler validates it itself (so a missing key is
    `idempotency-key-missing`, not a generic validation error), which the schema cannot see."""
    others = [p for p in operation.parameters or [] if getattr(p, "name", "") != "Idempotency-Key"]
    key = _header(
        "Idempotency-Key",
        f"Required: 1-{MAX_KEY_LENGTH} visible ASCII characters",
        required=True,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
    )
    operation.parameters = [key, *others]


def document_idempotent_post(operation: Operation, success: int) -> None:
    """The required key, the replay marker on `success` and the 409's `Retry-After`."""
    require_idempotency_key(operation)
    response_header(
        operation, success, "Idempotent-Replayed", "`true` on a replay of the first response"
    )
    response_header(
        operation,
        409,
        "Retry-After",
        "Seconds to wait (idempotency-in-progress only)",
        kind=OpenAPIType.INTEGER,
    )


@dataclass
class CreateOrderOperation(Operation):
    """`POST /api/orders`: the body, the required key and the response headers."""

    def __post_init__(self) -> None:
        self.request_body = json_body(create_order_schema(), "The order to create")
        response_header(self, 201, "Location", "/api/orders/{orderNumber}", required=True)
        document_idempotent_post(self, 201)


@dataclass
class WebhookOperation(Operation):
    """`POST /api/webhooks/payments`: the event body and the three schemes' headers."""

    def __post_init__(self) -> None:
        self.request_body = json_body(
            struct_schema(WebhookEvent), "A payment event, signed over its raw bytes"
        )
        self.parameters = [
            *(self.parameters or []),
            _header("X-Signature", "payflow scheme: `t=<unix>,v1=<hex>[,v1=…]`"),
            _header("Stripe-Signature", "Stripe scheme: `t=<unix>,v1=<hex>`"),
            _header("webhook-id", "Standard Webhooks: message id"),
            _header("webhook-timestamp", "Standard Webhooks: Unix time"),
            _header("webhook-signature", "Standard Webhooks: `v1,<base64>[ v1,<base64>…]`"),
        ]
