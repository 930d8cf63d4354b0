"""Wire shapes of `/api/faults` (camelCase msgspec Structs), their examples and OpenAPI.

`rate` is a share, not money, so it is read as a float; `fault` is spelled as the
`Payflow-Fault` header spells it and stored in its canonical form (`payflow.domain.faults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import Example, Operation
from msgspec import Meta

from payflow.api.docs import json_body, require_idempotency_key, response_header, struct_schema
from payflow.api.schemas import convert_body
from payflow.domain.faults import ACCEPTED_FORMS, Fault, FaultRule, InvalidFault, parse_fault
from payflow.errors import ValidationFailed
from payflow.timefmt import isoformat

MAX_COUNT = 1_000_000


class CreateFaultRuleRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/faults`."""

    path: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=256,
            pattern="^/",
            description="Glob over the request path: `*` any characters (`/` too), `?` one",
            examples=["/api/orders*"],
        ),
    ]
    fault: Annotated[
        str,
        Meta(min_length=1, max_length=64, description=ACCEPTED_FORMS, examples=["error-503"]),
    ]
    rate: Annotated[
        float, Meta(ge=0, le=1, description="Share of matching requests that meet the fault")
    ]
    method: (
        Annotated[
            str,
            Meta(
                pattern="^[A-Za-z]{1,16}$",
                description="Only this HTTP method; every method when absent",
                examples=["POST"],
            ),
        ]
        | None
    ) = None
    count: (
        Annotated[
            int, Meta(ge=1, le=MAX_COUNT, description="Fire at most this often; no limit if absent")
        ]
        | None
    ) = None


class FaultRuleOut(msgspec.Struct, rename="camel"):
    """A fault rule; `injected` counts its firings in every process on the database."""

    id: str
    method: str | None
    path: str
    fault: str
    rate: float
    count: int | None
    remaining: int | None
    injected: int
    created_at: str


class FaultRuleDeletedOut(msgspec.Struct):
    id: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class FaultRuleIn:
    path: str
    fault: Fault
    rate: float
    method: str | None
    count: int | None


def parse_create_rule(payload: dict[str, Any]) -> FaultRuleIn:
    """Validate a create body: shape first (msgspec), then the fault's spelling."""
    shaped = dict(payload)
    if isinstance(shaped.get("rate"), Decimal):  # exact on the wire, a share here
        shaped["rate"] = float(shaped["rate"])
    request = convert_body(shaped, CreateFaultRuleRequest)
    try:
        fault = parse_fault(request.fault)
    except InvalidFault as exc:
        raise ValidationFailed([{"field": "fault", "message": str(exc)}]) from None
    method = None if request.method is None else request.method.upper()
    return FaultRuleIn(request.path, fault, request.rate, method, request.count)


def rule_out(rule: FaultRule) -> FaultRuleOut:
    return FaultRuleOut(
        id=rule.id,
        method=rule.method,
        path=rule.path,
        fault=str(rule.fault),
        rate=rule.rate,
        count=rule.count,
        remaining=rule.remaining,
        injected=rule.injected,
        created_at=isoformat(rule.created_at),
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


@dataclass
class CreateFaultRuleOperation(Operation):
    """`POST /api/faults`: body with examples, required key, `Location`."""

    def __post_init__(self) -> None:
        examples = {
            "lost-answers": Example(
                summary="Half the order creations take effect, then the connection resets",
                value={
                    "method": "POST",
                    "path": "/api/orders",
                    "fault": "after-commit:reset",
                    "rate": 0.5,
                    "count": 10,
                },
            ),
            "outage": Example(
                summary="Every API call answers 503 with Retry-After",
                value={"path": "/api/*", "fault": "error-503", "rate": 1},
            ),
        }
        self.request_body = json_body(
            struct_schema(CreateFaultRuleRequest), "The fault rule", examples=examples
        )
        require_idempotency_key(self)
        response_header(self, 201, "Location", "/api/faults/{id}")
        response_header(self, 201, "Idempotent-Replayed", "`true` on a replay")
