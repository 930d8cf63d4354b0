"""OpenAPI of the receiver: it reads its body as raw bytes (the signature covers them),
so the event body and the three schemes' headers are documented here."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import Operation

from payflow.api.openapi import header_parameter, request_body, struct_schema
from payflow.api.webhooks.schemas import WebhookEvent


@dataclass
class WebhookOperation(Operation):
    """`POST /api/webhooks/payments`: the event body and the three schemes' headers."""

    def __post_init__(self) -> None:
        self.request_body = request_body(
            struct_schema(WebhookEvent), "A payment event, signed over its raw bytes"
        )
        self.parameters = [
            *(self.parameters or []),
            header_parameter("X-Signature", "payflow scheme: `t=<unix>,v1=<hex>[,v1=…]`"),
            header_parameter("Stripe-Signature", "Stripe scheme: `t=<unix>,v1=<hex>`"),
            header_parameter("webhook-id", "Standard Webhooks: message id"),
            header_parameter("webhook-timestamp", "Standard Webhooks: Unix time"),
            header_parameter(
                "webhook-signature", "Standard Webhooks: `v1,<base64>[ v1,<base64>…]`"
            ),
        ]
