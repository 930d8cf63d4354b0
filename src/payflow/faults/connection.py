"""Closing a request's connection unanswered, which ASGI itself has no message for.

An ASGI app that returns, or raises, before sending `http.response.start` gets a
`500 Internal Server Error` from uvicorn, not a lost answer. What drops a connection is
its transport: uvicorn's `send` is a method of its per-request cycle object, which
keeps the connection's asyncio transport as `transport` (both of uvicorn's HTTP/1.1
implementations, httptools and h11). `ConnectionAccess`, the outermost layer of
payflow's ASGI stack, sees that `send` before any layer wraps it and puts the
transport in the request's scope under the extension `payflow.connection`. Under a
server without it (a test client), `close_unanswered` says so and the caller answers
instead.

- reset: `SO_LINGER` with a zero timeout, then `abort()`: the kernel sends a TCP RST
  and the client reads `ECONNRESET` (httpx: `ReadError`).
- close (the end of `timeout`): `close()`, a plain FIN: the client reads end of stream
  without a response (httpx: `RemoteProtocolError`), unless its own timeout came first.

Either way uvicorn then sees the connection lost and sends nothing more.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any, Protocol, cast

import anyio
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

EXTENSION = "payflow.connection"
# After an abort the server reports the disconnect on its next loop iteration; a bound
# keeps a server that never does from holding the request.
DISCONNECT_WAIT_SECONDS = 5.0
_NO_LINGER = struct.pack("ii", 1, 0)


class Transport(Protocol):
    """What is used of a connection's transport (asyncio's, or uvloop's, which is not an
    `asyncio.Transport` subclass, hence a protocol checked by its methods)."""

    def abort(self) -> None: ...

    def close(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def _is_transport(value: object) -> bool:
    methods = ("abort", "close", "get_extra_info")
    return all(callable(getattr(value, name, None)) for name in methods)


class ConnectionAccess:
    """Outermost ASGI layer: exposes the request's transport to the fault middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = _transport_of(send) if scope["type"] == ScopeType.HTTP else None
        if transport is not None:
            extensions: dict[str, Any] = dict(scope.get("extensions") or {})
            extensions[EXTENSION] = {"transport": transport}
            scope = cast("Scope", {**scope, "extensions": extensions})
        await self.app(scope, receive, send)


def _transport_of(send: Send) -> Transport | None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return cast("Transport", transport) if _is_transport(transport) else None


async def close_unanswered(scope: Scope, receive: Receive, *, reset: bool) -> bool:
    """Drop the connection (RST if `reset`, else FIN); False if this server cannot."""
    extension = (scope.get("extensions") or {}).get(EXTENSION) or {}
    transport = cast("Transport | None", extension.get("transport"))
    if transport is None:
        return False
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # already gone: abort() is all there is to do
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _NO_LINGER)
        transport.abort()
    else:
        transport.close()
    await until_disconnected(receive, DISCONNECT_WAIT_SECONDS)
    return True


async def until_disconnected(receive: Receive, seconds: float) -> None:
    """Read (and drop) the request until the client is gone, for at most `seconds`."""
    with anyio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass


async def read_to_end(receive: Receive, max_bytes: int, seconds: float) -> None:
    """Read and drop what is left of the request body: at most `max_bytes`, `seconds`."""
    drained = 0
    with anyio.move_on_after(seconds):
        while drained <= max_bytes:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            body = message.get("body", b"")
            drained += len(body) if isinstance(body, bytes) else 0
