"""OpenAPI of `/api/faults` beyond what Litestar infers: the create body (read as raw
bytes by the idempotent-POST helper) with its examples, and response examples."""

from __future__ import annotations

from typing import Any

from payflow.api.faults.schemas import CreateFaultRuleRequest
from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import request_body, struct_schema

CreateFaultRuleOperation = idempotent_post_operation(
    201,
    request_body(
        struct_schema(CreateFaultRuleRequest),
        "The fault rule",
        lost_answers=(
            "Half the order creations take effect, then the connection resets",
            {
                "method": "POST",
                "path": "/api/orders",
                "fault": "after-commit:reset",
                "rate": 0.5,
                "count": 10,
            },
        ),
        outage=(
            "Every API call answers 503 with Retry-After",
            {"path": "/api/*", "fault": "error-503", "rate": 1},
        ),
    ),
    location="/api/faults/{id}",
)

EXAMPLE_RULE: dict[str, Any] = {
    "id": "flt_3b9d1f0c6a2e4b8d7c5a1e3f",
    "method": "POST",
    "path": "/api/orders",
    "fault": "after-commit:reset",
    "rate": 0.5,
    "count": 10,
    "remaining": 10,
    "injected": 0,
    "createdAt": "2026-11-22T20:47:01.123Z",
}
DELETED_EXAMPLE = {"id": EXAMPLE_RULE["id"], "deleted": True}
