"""OpenAPI for `/api/webhook-endpoints` beyond what Litestar infers.

The POST handlers read their body as raw bytes (for the idempotency fingerprint),
so the request body, the required `Idempotency-Key` and the examples Swagger
shows are added here, derived from the Structs that really decode the body.
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
from payflow.api.endpoint_schemas import (
    EXAMPLE_BUILT_IN,
    EXAMPLE_ENDPOINT,
    EXAMPLE_SECRET,
    CreateEndpointRequest,
    known_event_types,
)
from payflow.domain.endpoints import ALL_EVENTS
from payflow.idempotency import MAX_KEY_LENGTH


def example_response(model: Any, description: str, **examples: Any) -> ResponseSpec:
    return ResponseSpec(
        model,
        description=description,
        generate_examples=False,
        examples=[Example(summary=name, value=value) for name, value in examples.items()],
    )


def _idempotency_key() -> Parameter:
    return Parameter(
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


def _with_required_key(operation: Operation) -> None:
    # The handler checks the key itself (so a missing key is `idempotency-key-missing`).
    others = [p for p in operation.parameters or [] if getattr(p, "name", "") != "Idempotency-Key"]
    operation.parameters = [_idempotency_key(), *others]


def _response_header(operation: Operation, status: int, name: str, description: str) -> None:
    response = (operation.responses or {}).get(str(status))
    if isinstance(response, OpenAPIResponse):
        header = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=description)
        response.headers = {**(response.headers or {}), name: header}


def create_endpoint_schema() -> dict[str, Any]:
    schema = struct_schema(CreateEndpointRequest)
    events = schema["properties"]["events"]
    events["items"]["enum"] = [ALL_EVENTS, *known_event_types()]
    return schema


@dataclass
class CreateEndpointOperation(Operation):
    """`POST /api/webhook-endpoints`: body with examples, required key, `Location`."""

    def __post_init__(self) -> None:
        examples = {
            "stripe": Example(
                summary="Stripe-signed, payment events only",
                value={
                    "url": "http://127.0.0.1:3000/webhooks",
                    "events": ["payment.succeeded", "payment.failed"],
                    "scheme": "stripe",
                    "description": "my shop",
                },
            ),
            "everything": Example(
                summary="Every event, payflow's signature",
                value={"url": "https://example.test/hooks/payflow"},
            ),
        }
        media = OpenAPIMediaType(
            schema=cast("Schema", create_endpoint_schema()), examples=cast("Any", examples)
        )
        self.request_body = RequestBody(
            required=True, description="The endpoint to register", content={JSON: media}
        )
        _with_required_key(self)
        _response_header(self, 201, "Location", "/api/webhook-endpoints/{id}")
        _response_header(self, 201, "Idempotent-Replayed", "`true` on a replay")


@dataclass
class RotateSecretOperation(Operation):
    """`POST …/rotate-secret`: no body, required key."""

    def __post_init__(self) -> None:
        _with_required_key(self)
        _response_header(self, 200, "Idempotent-Replayed", "`true` on a replay")


CREATED_EXAMPLE = {**EXAMPLE_ENDPOINT, "secret": EXAMPLE_SECRET}
ROTATED_EXAMPLE = {
    **EXAMPLE_ENDPOINT,
    "updatedAt": "2026-11-23T09:00:00.000Z",
    "previousSecretExpiresAt": "2026-11-24T09:00:00.000Z",
    "secret": "whsec_1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9",
}
LIST_EXAMPLE = [EXAMPLE_BUILT_IN, EXAMPLE_ENDPOINT]
ONE_EXAMPLE = EXAMPLE_ENDPOINT
DELETED_EXAMPLE = {"id": EXAMPLE_ENDPOINT["id"], "deleted": True}
