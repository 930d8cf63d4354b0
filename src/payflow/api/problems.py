"""Per-route problem documentation: which RFC 9457 problems a route can answer.

Every error a route can answer is documented as `application/problem+json`, so a
client generated from the schema (or a fuzzer checking responses against it) sees
what payflow really sends. A route lists its statuses; `s409="…"` says what its 409
means when the shared sentence does not.
"""

from __future__ import annotations

import msgspec
from litestar.openapi import ResponseSpec

from payflow.api.responses import PROBLEM_JSON

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "validation-error (with `errors`): the request breaks the contract",
    401: "invalid-signature: missing, malformed, stale or non-matching signature",
    404: "not-found",
    409: "order-exists, or idempotency-in-progress (with Retry-After)",
    413: "payload-too-large",
    422: "idempotency-key-reused: the key was first used with another body",
    503: "service-unavailable: nothing was changed; retry later",
}


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
