"""Wire shapes of `/api/faults` (camelCase msgspec Structs) and the create body's parser.

`rate` is a share, not money, so it is read as a float; `fault` is spelled as the
`Payflow-Fault` header spells it and stored in its canonical form (`payflow.domain.faults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from payflow.api.body import convert_body
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
