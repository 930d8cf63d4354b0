"""`create_app(settings)`: the only place that builds the Litestar application."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Response, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Server
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin

from payflow import __version__
from payflow.api import access, health
from payflow.api.cancel import cancel_order
from payflow.api.docs import DecimalAsNumber
from payflow.api.endpoints import WebhookEndpointsController
from payflow.api.events import DeliveriesController, EventsController
from payflow.api.orders import OrdersController
from payflow.api.refunds import RefundsController
from payflow.api.request_log import RequestLog
from payflow.api.routing import CaseInsensitivePaths
from payflow.api.test_clock import TestClockController
from payflow.api.webhooks import receive_payment_webhook
from payflow.config import Settings, load_settings
from payflow.errors import PROBLEM_TYPE_BASE, NotFound, problem_for
from payflow.lifespan import Overrides, lifespan, provide_runtime
from payflow.logs import configure_logging

PROBLEM_DOCS: dict[str, str] = {
    "validation-error": "The request breaks the contract; `errors` lists each field and why.",
    "idempotency-key-missing": "POST /api/orders needs an Idempotency-Key header.",
    "idempotency-key-invalid": "The Idempotency-Key is over 255 characters or not printable ASCII.",
    "idempotency-key-reused": "The key was first used with a different request body.",
    "idempotency-in-progress": "The first request with this key is still running; see Retry-After.",
    "order-exists": "Another request already created an order with this orderNumber.",
    "order-not-cancelable": "Only a Pending order can be canceled.",
    "order-not-refundable": "Only a Paid or PartiallyRefunded order can be refunded.",
    "refund-exceeds-remaining": "The refund is more than what is left to refund on the order.",
    "unauthorized": "Send a configured API key as `Authorization: Bearer <key>`.",
    "invalid-signature": "The webhook signature is missing, malformed, stale or does not match.",
    "payload-too-large": "The request body is over the size limit.",
    "not-found": "There is nothing at this path.",
    "delivery-not-finished": "Only a succeeded or dead delivery can be redelivered.",
    "endpoint-built-in": "The built-in webhook endpoint is set in config, not through the API.",
    "endpoint-limit-reached": "Delete a webhook endpoint first ([webhooks] max_endpoints).",
    "method-not-allowed": "This path does not accept that HTTP method.",
    "rate-limited": "Too many requests; see Retry-After.",
    "service-unavailable": "The database cannot be reached right now; retry later.",
    "internal-error": "Something payflow did not expect; it has been logged.",
    "bad-request": "The request cannot be read.",
}


@get(f"{PROBLEM_TYPE_BASE}{{slug:str}}", include_in_schema=False, media_type=MediaType.TEXT)
async def problem_doc(slug: FromPath[str]) -> Response[str]:
    """Problem `type` URIs resolve to a one-line explanation."""
    text = PROBLEM_DOCS.get(slug)
    if text is None:
        raise NotFound(f"Unknown problem type {slug!r}.")  # an error: problem+json like any
    return Response(f"{slug}: {text}\n")


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> Any:
    """Build payflow's ASGI application (a Litestar app with case-insensitive paths)."""
    settings = settings or load_settings()
    configure_logging(settings.log.level, settings.log.json_logs)
    app = Litestar(
        route_handlers=[
            OrdersController,
            cancel_order,
            RefundsController,
            EventsController,
            DeliveriesController,
            WebhookEndpointsController,
            receive_payment_webhook,
            TestClockController,
            health.live,
            health.ready,
            health.metrics,
            problem_doc,
        ],
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        middleware=access.middleware(settings),
        cors_config=access.cors_config(settings),
        lifespan=[lifespan],
        plugins=[
            ProblemDetailsPlugin(
                ProblemDetailsConfig(exception_to_problem_detail_map={Exception: problem_for})
            ),
            DecimalAsNumber(),
        ],
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="payflow",
            version=__version__,
            description=(
                "A payment gateway simulator: idempotent orders, asynchronous outcomes, "
                "signed and timestamped webhooks. Errors are RFC 9457 problem+json."
            ),
            path="/swagger",
            servers=[Server(url="/")],
            render_plugins=[
                SwaggerRenderPlugin(path=["/", "/index.html"]),
                JsonRenderPlugin(path="/openapi.json"),
            ],
            **access.openapi_security(settings),
        ),
        debug=False,
    )
    app.state.settings = settings
    app.state.overrides = overrides or Overrides()
    paths = [route.path for route in app.routes]
    app.asgi_handler = RequestLog(CaseInsensitivePaths(app.asgi_handler, paths))
    return app
