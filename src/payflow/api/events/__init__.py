"""`/api/events` and `/api/deliveries`: what the gateway sent, and redelivery."""

from payflow.api.events.controller import DeliveriesController, EventsController

__all__ = ["DeliveriesController", "EventsController"]
