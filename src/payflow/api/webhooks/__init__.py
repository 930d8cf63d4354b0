"""`/api/webhooks/payments`: the merchant side, receiving signed payment events."""

from payflow.api.webhooks.controller import WebhooksController

__all__ = ["WebhooksController"]
