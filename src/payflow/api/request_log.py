"""One structured log line per request, and a request id that follows it everywhere.

The id comes from the client's `X-Request-Id` when it is short and printable, else
a fresh one; it is bound to structlog's context so every line logged while handling
the request carries it, and it is echoed in the response header.
"""

from __future__ import annotations

import re
import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from payflow.ids import token

log = structlog.get_logger("payflow.http")
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _ACCEPTABLE_ID.fullmatch(supplied) else f"req_{token(64)}"
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info(
                    "http_request",
                    method=scope.get("method", ""),
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
