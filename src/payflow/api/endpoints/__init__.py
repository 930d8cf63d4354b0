"""`/api/webhook-endpoints`: where events are sent, and how they are signed."""

from payflow.api.endpoints.controller import WebhookEndpointsController

__all__ = ["WebhookEndpointsController"]
