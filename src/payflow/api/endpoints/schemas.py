"""Wire shapes of `/api/webhook-endpoints` (camelCase msgspec Structs) and the create parser.

A secret appears in exactly two responses, the create and the rotate, which is
why those use their own shape; every other response is `EndpointOut`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from payflow.api.body import convert_body
from payflow.domain.endpoint_health import Chaos, Health
from payflow.domain.endpoints import (
    ALL_EVENTS,
    MAX_URL_LENGTH,
    Endpoint,
    RegisteredEndpoint,
    events_problem,
    url_problem,
)
from payflow.domain.events import EventType
from payflow.errors import ValidationFailed
from payflow.timefmt import isoformat

SchemeName = Literal["payflow", "stripe", "standard"]
EventName = Annotated[str, Meta(min_length=1, max_length=100)]
MAX_EVENTS = 50


def known_event_types() -> list[str]:
    return [t.value for t in EventType]


class ChaosIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Delivery chaos: some events arrive twice and late, so a receiver can test its
    idempotency (the duplicate is the same bytes and event id, a later attempt)."""

    duplicate_rate: Annotated[
        float, Meta(ge=0, le=1, description="Chance a delivered event is sent once more")
    ] = 0.0
    reorder_window_ms: Annotated[
        int,
        Meta(
            ge=0,
            le=600_000,
            description="A delivery waits a random time up to this before it is sent",
        ),
    ] = 0


class CreateEndpointRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/webhook-endpoints`."""

    url: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=MAX_URL_LENGTH,
            description="Absolute http:// or https:// URL that receives the events",
            examples=["http://127.0.0.1:3000/webhooks"],
        ),
    ]
    events: Annotated[
        list[EventName],
        Meta(
            min_length=1,
            max_length=MAX_EVENTS,
            description="Event types to receive; `*` for all",
            examples=[["payment.succeeded", "payment.failed"]],
        ),
    ] = msgspec.field(default_factory=lambda: [ALL_EVENTS])
    scheme: Annotated[
        SchemeName,
        Meta(
            description="Signature of deliveries: payflow (X-Signature), stripe "
            "(Stripe-Signature) or standard (Standard Webhooks)",
            examples=["stripe"],
        ),
    ] = "payflow"
    description: Annotated[str, Meta(max_length=500, examples=["my shop"])] | None = None
    chaos: ChaosIn | None = None


class ChaosOut(msgspec.Struct, rename="camel"):
    duplicate_rate: float
    reorder_window_ms: int


class EndpointOut(msgspec.Struct, rename="camel"):
    """A webhook endpoint; its secret is never shown again after create or rotate."""

    id: str
    url: str
    events: list[str]
    scheme: str
    description: str | None
    built_in: bool
    created_at: str | None
    updated_at: str | None
    previous_secret_expires_at: str | None
    status: str  # enabled | disabled
    circuit: str  # closed | open | half-open
    failing_since: str | None  # first failure since the last success
    chaos: ChaosOut | None


class EndpointWithSecretOut(EndpointOut):
    """The response to create and rotate-secret: the only place the secret appears."""

    secret: str


def parse_create_endpoint(payload: dict[str, Any]) -> CreateEndpointRequest:
    """Validate a create body: shape first (msgspec), then URL and event types."""
    request = convert_body(payload, CreateEndpointRequest)
    errors: list[dict[str, str]] = []
    if problem := url_problem(request.url):
        errors.append({"field": "url", "message": problem})
    if problem := events_problem(request.events, known_event_types()):
        errors.append({"field": "events", "message": problem})
    if errors:
        raise ValidationFailed(errors)
    request.events = list(dict.fromkeys(request.events))  # duplicates mean nothing
    return request


def _health_fields(health: Health) -> dict[str, Any]:
    failing = health.failing_since
    return {
        "status": health.status.value,
        "circuit": health.circuit.value,
        "failing_since": None if failing is None else isoformat(failing),
    }


def chaos_of(request: CreateEndpointRequest) -> Chaos:
    chaos = request.chaos
    return Chaos() if chaos is None else Chaos(chaos.duplicate_rate, chaos.reorder_window_ms)


def _chaos_out(chaos: Chaos) -> ChaosOut | None:
    return ChaosOut(chaos.duplicate_rate, chaos.reorder_window_ms) if chaos.active else None


def registered_out(endpoint: RegisteredEndpoint, now: datetime) -> EndpointOut:
    expires = endpoint.previous_secrets_expire_at(now)
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        scheme=endpoint.scheme,
        description=endpoint.description,
        built_in=False,
        created_at=isoformat(endpoint.created_at),
        updated_at=isoformat(endpoint.updated_at),
        previous_secret_expires_at=None if expires is None else isoformat(expires),
        chaos=_chaos_out(endpoint.chaos),
        **_health_fields(endpoint.health),
    )


def with_secret(out: EndpointOut, secret: str) -> EndpointWithSecretOut:
    fields = {name: getattr(out, name) for name in out.__struct_fields__}
    return EndpointWithSecretOut(**fields, secret=secret)


def built_in_out(endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        scheme=endpoint.scheme,
        description="payflow's configured target ([webhooks] in config/payflow.toml)",
        built_in=True,
        created_at=None,
        updated_at=None,
        previous_secret_expires_at=None,
        chaos=None,
        **_health_fields(endpoint.health),
    )
