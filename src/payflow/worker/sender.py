"""The gateway side's webhook sender: one httpx.AsyncClient per process, signed POSTs.

A delivery succeeds on any 2xx within the timeout; anything else (refused
connection, timeout, 3xx/4xx/5xx) is a failure the processor retries later.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from payflow import __version__, signing

USER_AGENT = f"payflow/{__version__}"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    status_code: int | None
    latency_seconds: float
    error: str | None = None
    response_excerpt: str = ""


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        scheme: signing.Scheme,
        secrets: Sequence[str],
        timeout_seconds: float,
    ) -> None:
        self._client = client
        self._scheme = scheme
        self._secrets = list(secrets)
        self._timeout = timeout_seconds

    async def deliver(
        self, url: str, body: bytes, event_id: str, attempt: int, timestamp: int
    ) -> DeliveryResult:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Payflow-Event-Id": event_id,
            "X-Payflow-Delivery-Attempt": str(attempt),
            **signing.sign(self._scheme, body, self._secrets[:1], timestamp, event_id),
        }
        started = time.perf_counter()
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(
                ok=False,
                status_code=None,
                latency_seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        latency = time.perf_counter() - started
        return DeliveryResult(
            ok=200 <= response.status_code < 300,
            status_code=response.status_code,
            latency_seconds=latency,
            error=None if response.is_success else f"HTTP {response.status_code}",
            response_excerpt=response.content[:1024].decode("utf-8", "replace"),
        )
