"""The webhook sink: a small HTTP server in the test process that keeps what it receives.

Each test registers its own path on it (`/sink/<token>`) as a payflow webhook endpoint and
gets the deliveries to that path, in arrival order, once their signature checks out. The
timestamp's age is not checked: on a test clock payflow's time may be days ahead of this
machine's, and the signature covers the timestamp anyway.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from payflow import signing

ANY_AGE_SECONDS = 100 * 366 * 24 * 3600
_decoder = msgspec.json.Decoder(float_hook=Decimal)


class ReceivedWebhook(dict[str, Any]):
    """One delivered event: the event's JSON (`id`, `type`, `createdAt`, `data`) as a dict,
    with the raw `body` and the request's `headers` (names in lower case) besides."""

    def __init__(self, event: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        super().__init__(event)
        self.body = body
        self.headers = headers

    def __getattr__(self, name: str) -> Any:  # webhook.type reads webhook["type"]
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Inbox:
    def __init__(self, scheme: str, secret: str) -> None:
        self.scheme = signing.Scheme(scheme)
        self.secret = secret
        self.received: list[ReceivedWebhook] = []


class Sink:
    """Runs for the test session; `open` makes an inbox, `close` forgets it."""

    def __init__(self) -> None:
        self._inboxes: dict[str, _Inbox] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status = sink._accept(self.path, self.rfile.read(length), dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: pytest shows what matters

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def open(self, token: str, scheme: str, secret: str) -> list[ReceivedWebhook]:
        inbox = _Inbox(scheme, secret)
        with self._lock:
            self._inboxes[f"/sink/{token}"] = inbox
        return inbox.received

    def close(self, token: str) -> None:
        with self._lock:
            self._inboxes.pop(f"/sink/{token}", None)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _accept(self, path: str, body: bytes, raw_headers: dict[str, str]) -> int:
        with self._lock:
            inbox = self._inboxes.get(path)
        if inbox is None:
            return 404
        headers = {name.lower(): value for name, value in raw_headers.items()}
        try:
            now = int(time.time())
            signing.verify(inbox.scheme, body, headers, [inbox.secret], now, ANY_AGE_SECONDS)
            event = _decoder.decode(body)
        except (signing.SignatureError, msgspec.DecodeError):
            return 400
        if not isinstance(event, dict):
            return 400
        with self._lock:
            inbox.received.append(ReceivedWebhook(event, body, headers))
        return 200
