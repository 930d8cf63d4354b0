"""The gateway side's webhook sender: one httpx.AsyncClient per process, signed POSTs.

A delivery succeeds on any 2xx within the timeout; anything else (refused
connection, timeout, 3xx/4xx/5xx) is a failure the processor retries later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from payflow import __version__, signing
from payflow.domain.endpoints import Endpoint

USER_AGENT = f"payflow/{__version__}"
EXCERPT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    status_code: int | None
    latency_seconds: float
    error: str | None = None
    response_excerpt: str = ""


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, timeout_seconds: float) -> None:
        self._client = client
        self._timeout = timeout_seconds

    async def deliver(
        self, endpoint: Endpoint, body: bytes, event_id: str, attempt: int, timestamp: int
    ) -> DeliveryResult:
        """POST `body` signed with every active secret of the endpoint (two while rotating)."""
        signature = signing.sign(
            signing.Scheme(endpoint.scheme), body, endpoint.secrets, timestamp, event_id
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Payflow-Event-Id": event_id,
            "X-Payflow-Delivery-Attempt": str(attempt),
            **signature,
        }
        started = time.perf_counter()
        try:
            response = await self._client.post(
                endpoint.url, content=body, headers=headers, timeout=self._timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a bad URL is a failed attempt
            return DeliveryResult(
                ok=False,
                status_code=None,
                latency_seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        return DeliveryResult(
            ok=response.is_success,
            status_code=response.status_code,
            latency_seconds=time.perf_counter() - started,
            error=None if response.is_success else f"HTTP {response.status_code}",
            response_excerpt=response.content[:EXCERPT_BYTES].decode("utf-8", "replace"),
        )
