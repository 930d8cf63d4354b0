"""OpenAPI of `/api/webhook-endpoints` beyond what Litestar infers: the create body (read
as raw bytes by the idempotent-POST helper) with its examples, and response examples."""

from __future__ import annotations

from typing import Any

from payflow.api.endpoints.schemas import CreateEndpointRequest, known_event_types
from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import request_body, struct_schema
from payflow.domain.endpoints import ALL_EVENTS


def create_endpoint_schema() -> dict[str, Any]:
    schema = struct_schema(CreateEndpointRequest)
    schema["properties"]["events"]["items"]["enum"] = [ALL_EVENTS, *known_event_types()]
    return schema


CreateEndpointOperation = idempotent_post_operation(
    201,
    request_body(
        create_endpoint_schema(),
        "The endpoint to register",
        stripe=(
            "Stripe-signed, payment events only",
            {
                "url": "http://127.0.0.1:3000/webhooks",
                "events": ["payment.succeeded", "payment.failed"],
                "scheme": "stripe",
                "description": "my shop",
            },
        ),
        everything=(
            "Every event, payflow's signature",
            {"url": "https://example.test/hooks/payflow"},
        ),
    ),
    location="/api/webhook-endpoints/{id}",
)
RotateSecretOperation = idempotent_post_operation(200)
EnableOperation = idempotent_post_operation(200)

EXAMPLE_ENDPOINT: dict[str, Any] = {
    "id": "we_6f1c0a9b2d4e8f7a1b3c5d7e",
    "url": "http://127.0.0.1:3000/webhooks",
    "events": ["payment.succeeded", "payment.failed"],
    "scheme": "stripe",
    "description": "my shop",
    "builtIn": False,
    "createdAt": "2026-11-22T20:47:01.123Z",
    "updatedAt": "2026-11-22T20:47:01.123Z",
    "previousSecretExpiresAt": None,
    "status": "enabled",
    "circuit": "closed",
    "failingSince": None,
    "chaos": None,
}
EXAMPLE_SECRET = "whsec_8c3e4b1f9a0d2c7e6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"  # noqa: S105 - docs
EXAMPLE_BUILT_IN: dict[str, Any] = {
    "id": "we_default",
    "url": "http://127.0.0.1:8000/api/webhooks/payments",
    "events": ["*"],
    "scheme": "payflow",
    "description": "payflow's configured target ([webhooks] in config/payflow.toml)",
    "builtIn": True,
    "createdAt": None,
    "updatedAt": None,
    "previousSecretExpiresAt": None,
    "status": "enabled",
    "circuit": "closed",
    "failingSince": None,
    "chaos": None,
}
CREATED_EXAMPLE = {**EXAMPLE_ENDPOINT, "secret": EXAMPLE_SECRET}
ROTATED_EXAMPLE = {
    **EXAMPLE_ENDPOINT,
    "updatedAt": "2026-11-23T09:00:00.000Z",
    "previousSecretExpiresAt": "2026-11-24T09:00:00.000Z",
    "secret": "whsec_1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9",
}
LIST_EXAMPLE = [EXAMPLE_BUILT_IN, EXAMPLE_ENDPOINT]
DELETED_EXAMPLE = {"id": EXAMPLE_ENDPOINT["id"], "deleted": True}
