"""A webhook target that a test controls, and small helpers for worker tests.

`Target` stands between payflow's sender and payflow's own receiver: when `status` is
None it forwards each webhook to the app (so orders really move to Paid), otherwise it
answers with that status, as a merchant's endpoint that is down would. A test flips
`status` to take the receiver down and bring it back, and `gate` holds requests in
flight for as long as a test wants (graceful shutdown).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import httpx

from payflow.config import Settings
from payflow.lifespan import build_processor
from payflow.store.mongo import MongoStore
from payflow.worker.channel import WorkQueue
from payflow.worker.processor import Processor
from tests.support import make_settings

TARGET_URL = "http://merchant.test/webhooks"
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "accept"}


class Target:
    def __init__(self) -> None:
        self.status: int | None = None  # None: forward to payflow's receiver
        self.gate: anyio.Event | None = None  # requests wait for it while it is set here
        self.received: list[httpx.Request] = []
        self.app: Any = None  # set once the app exists (`attach`)

    def attach(self, client: Any) -> None:
        """Forward to the app behind a test client from `tests.support.app_client`."""
        self.app = client.app

    def transport(self) -> httpx.MockTransport:
        """The transport payflow's sender is given instead of a real one."""
        return httpx.MockTransport(self._handle)

    def attempts_for(self, event_id: str) -> list[int]:
        return [
            int(r.headers["x-payflow-delivery-attempt"])
            for r in self.received
            if r.headers["x-payflow-event-id"] == event_id
        ]

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.status is not None:
            return httpx.Response(self.status, text="merchant is down")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://payflow") as app:
            response = await app.post(
                "/api/webhooks/payments", content=request.content, headers=headers
            )
        return httpx.Response(response.status_code, content=response.content)


def target_settings(db_settings: Settings, **changes: Any) -> Settings:
    """`db_settings` with webhooks going to `TARGET_URL` (and any other changes)."""
    return make_settings(
        mongo__uri=db_settings.mongo.uri,
        mongo__database=db_settings.mongo.database,
        webhooks__target_url=TARGET_URL,
        **changes,
    )


@asynccontextmanager
async def processor_in_this_loop(
    client: Any, db: Any, http: httpx.AsyncBaseTransport
) -> AsyncIterator[Processor]:
    """A processor like the app's, on `db` (a motor database of the test's own loop).

    The test client runs the app in a loop of its own, whose database client cannot be
    awaited from the test; this one can, and it drives jobs one step at a time.
    """
    runtime = client.app_runtime
    queue = WorkQueue(runtime.settings.processing.queue_size, runtime.clock)
    try:
        yield replace(build_processor(runtime, http), store=MongoStore(db), queue=queue)
    finally:
        await queue.aclose()


async def in_app_loop(client: Any, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` in the loop the test client runs the app in (its worker lives there)."""
    return await anyio.to_thread.run_sync(client.blocking_portal.call, function, *args)


async def create_orders(client: Any, count: int, prefix: str = "ORD", **extra: str) -> list[str]:
    numbers = [f"{prefix}-{n}" for n in range(count)]
    for number in numbers:
        fields = [f'"orderNumber":"{number}"', '"amount":10.5']
        fields += [f'"{k}":"{v}"' for k, v in extra.items()]
        response = await client.post(
            "/api/orders",
            headers={"Idempotency-Key": f"key-{number}"},
            content=("{" + ",".join(fields) + "}").encode(),
        )
        assert response.status_code == 201, response.text
    return numbers
