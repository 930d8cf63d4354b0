"""A request body left unread is read before the connection can close: answers, not resets.

A body over `[server] max_body_bytes` is refused (413) before it is all read. uvicorn
closes the connection right after the answer when the client asked for that
(`Connection: close`, HTTP/1.0) — with the rest of the body still unread in the
socket, so the kernel sends a TCP RST, and a client that writes its whole body before
reading (most simple clients do) finds the 413 thrown away with its connection.

So when an answer ends while the request body has not been read to its end, this
layer sends the answer's last bytes, then reads and drops the rest of the body (at
most `[server] drain_max_bytes`, for at most `DRAIN_SECONDS`), and only then ends the
response, which is when uvicorn may close. A client that reads first has its answer
as early as before; one that writes first now gets it too. Past either bound the
connection closes as before: a bound, so that refusing a body never costs more than
reading that much of it.

Requests without a body (no Content-Length, no chunked encoding) pass through
untouched, and so do those whose body the app read: the hot paths pay nothing.
"""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from payflow.faults.connection import read_to_end

DRAIN_SECONDS = 10.0


def _announces_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


class DrainUnreadBody:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _announces_body(scope):
            await self.app(scope, receive, send)
            return
        body_read = False

        async def tracked_receive() -> ReceiveMessage:
            nonlocal body_read
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read = True
            return message

        async def send_after_draining(message: Message) -> None:
            ends = message["type"] == "http.response.body" and not message.get("more_body")
            if not ends or body_read:
                await send(message)
                return
            if message.get("body"):
                last: Any = {**message, "more_body": True}
                await send(last)
            await read_to_end(tracked_receive, self.max_bytes, DRAIN_SECONDS)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app(scope, tracked_receive, send_after_draining)
