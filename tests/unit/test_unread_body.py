"""The layer that reads an unread request body before a response may end (no RST on 413).

Driven with scripted ASGI messages: what the app sends, what the server's `receive`
yields, and the order in which the layer passes them on.
"""

from __future__ import annotations

from typing import Any

import pytest

from payflow.api.unread_body import DrainUnreadBody

pytestmark = pytest.mark.anyio


class Server:
    """A scripted server: body chunks to hand out, and a log of everything in order."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.log: list[str] = []

    async def receive(self) -> dict[str, Any]:
        chunk = self.chunks.pop(0)
        self.log.append(f"read {len(chunk)}")
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.log.append(f"start {message['status']}")
        else:
            self.log.append(f"body {len(message['body'])} more={message.get('more_body', False)}")


async def run(layer: DrainUnreadBody, headers: list[tuple[bytes, bytes]], server: Server) -> None:
    scope = {"type": "http", "method": "POST", "path": "/api/orders", "headers": headers}
    call: Any = layer  # scripted plain dicts stand in for the server's typed messages
    await call(scope, server.receive, server.send)


async def refuse_without_reading(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": []})
    await send({"type": "http.response.body", "body": b"too large", "more_body": False})


async def read_then_answer(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"created", "more_body": False})


async def test_an_answer_before_the_body_is_read_is_sent_then_the_body_read_then_ended() -> None:
    server = Server([b"a" * 10, b"b" * 10, b"c" * 10])
    layer = DrainUnreadBody(refuse_without_reading, max_bytes=1000)
    await run(layer, [(b"content-length", b"30")], server)
    assert server.log == [
        "start 413",
        "body 9 more=True",  # the whole answer goes out first
        "read 10",
        "read 10",
        "read 10",
        "body 0 more=False",  # then the response ends, and the server may close
    ]


async def test_reading_stops_at_the_bound() -> None:
    server = Server([b"a" * 10] * 10)
    layer = DrainUnreadBody(refuse_without_reading, max_bytes=15)
    await run(layer, [(b"transfer-encoding", b"chunked")], server)
    assert server.log.count("read 10") == 2  # past 15 bytes it gives up
    assert server.log[-1] == "body 0 more=False"


async def test_a_body_the_app_read_passes_through_untouched() -> None:
    server = Server([b"a" * 10, b"b" * 10])
    layer = DrainUnreadBody(read_then_answer, max_bytes=1000)
    await run(layer, [(b"content-length", b"20")], server)
    assert server.log == ["read 10", "read 10", "start 201", "body 7 more=False"]


async def test_a_request_without_a_body_passes_through_untouched() -> None:
    server = Server([])
    layer = DrainUnreadBody(refuse_without_reading, max_bytes=1000)
    await run(layer, [(b"content-length", b"0")], server)
    assert server.log == ["start 413", "body 9 more=False"]
