"""How CLI commands talk to a running payflow: its HTTP API, never its database.

One small wrapper over `httpx.Client`: JSON bodies with exact decimals, a fresh
`Idempotency-Key` on every POST (a command retried by hand is a new request),
an optional API key, and every failure turned into one `ApiError` whose text
is ready to print (a problem's title and detail, or why payflow is unreachable).
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from payflow.replies import problem_text

DEFAULT_API = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 10.0

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


class ApiError(Exception):
    """A request to payflow failed; `str(exc)` says why in one line."""


def add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        default=os.environ.get("PAYFLOW_API", DEFAULT_API),
        metavar="URL",
        help="base URL of a running payflow (default: $PAYFLOW_API or %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("PAYFLOW_API_KEY", ""),
        metavar="KEY",
        help="sent as 'Authorization: Bearer KEY' when payflow requires API keys "
        "(default: $PAYFLOW_API_KEY)",
    )


class Api:
    def __init__(self, http: httpx.Client, base_url: str, api_key: str = "") -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self._send("GET", path, params=query)

    def post(self, path: str, body: Any = None) -> Any:
        key = f"cli-{uuid.uuid4().hex}"
        content = b"" if body is None else _encoder.encode(body)
        return self._send("POST", path, content=content, key=key)

    def delete(self, path: str) -> Any:
        return self._send("DELETE", path)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        key: str | None = None,
    ) -> Any:
        headers = dict(self._auth)
        if content is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        url = self.base_url + path
        try:
            response = self.http.request(
                method, url, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach payflow at {self.base_url} ({exc})") from None
        if response.is_error:
            raise ApiError(f"{method} {path}: {problem_text(response)}")
        try:
            return _decoder.decode(response.content)
        except msgspec.DecodeError:
            raise ApiError(f"{method} {path}: the answer is not JSON; is {url} payflow?") from None


@contextmanager
def open_api(args: argparse.Namespace) -> Iterator[Api]:
    """The command's API; a client injected by the caller (tests) is used and left open."""
    injected: httpx.Client | None = getattr(args, "http", None)
    if injected is not None:
        yield Api(injected, args.api, args.api_key)
        return
    with httpx.Client(timeout=TIMEOUT_SECONDS) as http:
        yield Api(http, args.api, args.api_key)
