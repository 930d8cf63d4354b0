"""OpenAPI for `/api/webhook-endpoints` beyond what Litestar infers.

The POST handlers read their body as raw bytes (for the idempotency fingerprint),
so the request body, the required `Idempotency-Key` and the examples Swagger
shows are added here, derived from the Structs that really decode the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import Example, Operation

from payflow.api.docs import json_body, require_idempotency_key, response_header, struct_schema
from payflow.api.endpoint_schemas import (
    EXAMPLE_BUILT_IN,
    EXAMPLE_ENDPOINT,
    EXAMPLE_SECRET,
    CreateEndpointRequest,
    known_event_types,
)
from payflow.domain.endpoints import ALL_EVENTS


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
        self.request_body = json_body(
            create_endpoint_schema(), "The endpoint to register", examples=examples
        )
        require_idempotency_key(self)
        response_header(self, 201, "Location", "/api/webhook-endpoints/{id}")
        response_header(self, 201, "Idempotent-Replayed", "`true` on a replay")


@dataclass
class RotateSecretOperation(Operation):
    """`POST …/rotate-secret`: no body, required key."""

    def __post_init__(self) -> None:
        require_idempotency_key(self)
        response_header(self, 200, "Idempotent-Replayed", "`true` on a replay")


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
