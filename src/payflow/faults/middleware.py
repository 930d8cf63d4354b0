"""The ASGI middleware that applies a fault to a request (`Payflow-Fault`, fault rules).

It runs inside Litestar, after API-key checks, on every matched `/api` route, with the
request's path already in its declared case. The request's own `Payflow-Fault` header
wins; without one, the fault rules are asked (`payflow.faults.cache`). An unknown
header value is a `400 validation-error`. Each fault applied is counted in
`payflow_faults_injected_total{fault}` and logged as `fault_injected`.

    error-500 / error-503   problem+json `fault-injected` (503 with Retry-After); the
                            request is not executed
    timeout                 held for [faults] timeout_seconds (or until the client
                            leaves), then the connection is closed unanswered
    reset                   the request is read, then its connection reset, unanswered
    slow=<ms>               executed normally after the delay
    after-commit:<fault>    executed to the end, idempotency record included, its answer
                            dropped, then error-500, reset or timeout as above

Problems are rendered as Litestar renders raised ones, but sent from here: for an
after-commit fault Litestar has already seen its own response go out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import structlog
from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from payflow.domain.faults import Fault, FaultKind, InvalidFault, parse_fault
from payflow.errors import FaultInjected, PayflowError, ValidationFailed
from payflow.faults.cache import CachedRules
from payflow.faults.connection import close_unanswered, read_to_end, until_disconnected
from payflow.lifespan import Runtime, runtime_of

if TYPE_CHECKING:
    from litestar import Litestar

HEADER = "Payflow-Fault"
_HEADER_KEY = HEADER.lower().encode()
_STATE_KEY = "fault_rules"
RETRY_AFTER_SECONDS = 1
READ_SECONDS = 10.0  # how long `reset` waits for the rest of a request before dropping it

log = structlog.get_logger("payflow.faults")


def cached_rules(app: Litestar) -> CachedRules:
    """The application's rule cache, made on first use from its settings."""
    rules: CachedRules | None = app.state.get(_STATE_KEY)
    if rules is None:
        settings = runtime_of(app).settings.faults
        rules = CachedRules(settings.refresh_seconds, settings.seed)
        app.state[_STATE_KEY] = rules
    return rules


class FaultInjection:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        await self._handle(scope, receive, send)

    async def _handle(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        litestar_app: Litestar = scope["litestar_app"]
        runtime = runtime_of(litestar_app)
        if not runtime.settings.faults.enabled:
            await self.app(scope, receive, send)
            return
        try:
            chosen = await _fault_for(scope, runtime, cached_rules(litestar_app))
        except InvalidFault as exc:
            problem = ValidationFailed([{"field": HEADER, "message": str(exc)}])
            await send_problem(scope, receive, send, problem)
            return
        if chosen is None:
            await self.app(scope, receive, send)
            return
        fault, source = chosen
        runtime.metrics.faults_injected.labels(fault=fault.label).inc()
        log.info(
            "fault_injected",
            fault=str(fault),
            source=source,
            method=scope["method"],
            path=scope["path"],
        )
        await self._apply(fault, scope, receive, send, runtime)

    async def _apply(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, runtime: Runtime
    ) -> None:
        if fault.kind is FaultKind.SLOW:
            await anyio.sleep(fault.slow_ms / 1000)
            await self.app(scope, receive, send)
            return
        if fault.after_commit:
            await self.app(scope, receive, _dropped)
        elif fault.kind is FaultKind.RESET:
            # The whole request first, as a server that failed while handling it would
            # have it: a client still writing would otherwise meet the reset on its write
            # and then read a plain end of stream.
            await read_to_end(receive, runtime.settings.server.max_body_bytes, READ_SECONDS)
        await _lose_answer(fault, scope, receive, send, runtime.settings.faults.timeout_seconds)


async def _fault_for(
    scope: HTTPScope, runtime: Runtime, rules: CachedRules
) -> tuple[Fault, str] | None:
    """The fault for this request and where it came from (`header` or a rule id)."""
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            return parse_fault(value.decode("latin-1")), "header"
    rule = await rules.fire_for(runtime.store.faults, scope["method"], scope["path"])
    return None if rule is None else (rule.fault, rule.id)


async def _dropped(message: Message) -> None:
    """Where an after-commit fault sends the real answer."""


async def _lose_answer(
    fault: Fault, scope: Scope, receive: Receive, send: Send, hold_seconds: float
) -> None:
    what = "after the request took effect" if fault.after_commit else "instead of executing"
    if fault.kind is FaultKind.ERROR_503:
        await send_problem(
            scope,
            receive,
            send,
            FaultInjected(
                f"{HEADER}: {fault} ({what}).",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                status_code=503,
            ),
        )
        return
    if fault.kind is FaultKind.TIMEOUT:
        await until_disconnected(receive, hold_seconds)  # ends early if the client gives up
    if fault.kind in (FaultKind.TIMEOUT, FaultKind.RESET):
        if await close_unanswered(scope, receive, reset=fault.kind is FaultKind.RESET):
            return
        what += "; this server cannot drop a connection, so it answers instead"
    await send_problem(scope, receive, send, FaultInjected(f"{HEADER}: {fault} ({what})."))


async def send_problem(scope: Scope, receive: Receive, send: Send, problem: PayflowError) -> None:
    """The problem as Litestar renders a raised one (after an after-commit fault Litestar
    has seen its own response go out, so a raise would not reach its renderer)."""
    request: Request[Any, Any, Any] = Request(scope, receive)
    response = problem.to_response(request).to_asgi_response(None, request)
    await response(scope, receive, send)
