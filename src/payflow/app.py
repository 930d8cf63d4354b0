"""`create_app(settings)`: the only place that builds the Litestar application."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Response, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Server
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin

from payflow import __version__, swagger
from payflow.api import access
from payflow.api.customers import BalanceTransactionsController, CustomersController
from payflow.api.endpoints import WebhookEndpointsController
from payflow.api.events import DeliveriesController, EventsController
from payflow.api.faults import FaultRulesController
from payflow.api.health import HealthController
from payflow.api.openapi import DecimalAsNumber
from payflow.api.orders import OrdersController
from payflow.api.payment_methods import (
    CustomerPaymentMethodsController,
    PaymentMethodsController,
)
from payflow.api.refunds import RefundsController
from payflow.api.request_log import RequestLog
from payflow.api.responses import ExactJSON
from payflow.api.routing import CaseInsensitivePaths
from payflow.api.test_clock import TestClockController
from payflow.api.unread_body import DrainUnreadBody
from payflow.api.webhooks import WebhooksController
from payflow.config import Settings, load_settings
from payflow.dashboard import ROUTES as DASHBOARD_ROUTES
from payflow.errors import PROBLEM_TYPE_BASE, NotFound, problem_docs, problem_for
from payflow.faults.connection import ConnectionAccess
from payflow.faults.middleware import FaultInjection
from payflow.lifespan import Overrides, lifespan, provide_runtime
from payflow.logs import configure_logging


@get(f"{PROBLEM_TYPE_BASE}{{slug:str}}", include_in_schema=False, media_type=MediaType.TEXT)
async def problem_doc(slug: FromPath[str]) -> Response[str]:
    """Problem `type` URIs resolve to a one-line explanation."""
    text = problem_docs().get(slug)
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
            RefundsController,
            EventsController,
            DeliveriesController,
            WebhookEndpointsController,
            FaultRulesController,
            WebhooksController,
            HealthController,
            TestClockController,
            CustomersController,
            BalanceTransactionsController,
            PaymentMethodsController,
            CustomerPaymentMethodsController,
            problem_doc,
            *DASHBOARD_ROUTES,
            swagger.assets_router(),
        ],
        # Controllers ask for parts of it (`api.dependencies`), never for the whole.
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        response_class=ExactJSON,  # returned Structs in `payflow.codec`'s byte form
        middleware=[*access.middleware(settings), FaultInjection],
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
                swagger.render_plugin(path=["/", "/index.html"]),
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
    app.asgi_handler = DrainUnreadBody(app.asgi_handler, settings.server.drain_max_bytes)
    app.asgi_handler = ConnectionAccess(app.asgi_handler)  # outermost: sees the server's send
    return app
