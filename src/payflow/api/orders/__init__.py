"""`/api/orders`: an order's life — create, list, fetch, audit trail, cancel."""

from payflow.api.orders.controller import OrdersController

__all__ = ["OrdersController"]
