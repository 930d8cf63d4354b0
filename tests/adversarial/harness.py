"""Drive the async app from synchronous Hypothesis code (`@given`, state machines).

Hypothesis raises `BaseException`s (`StopTest`) from inside draws and schemathesis a
`BaseExceptionGroup` from checks; inside an anyio test either one stops anyio's test
runner. So the adversarial suites stay synchronous and reach the app through portals.

Two event loops are involved. Litestar's test client runs the app (lifespan and every
request) on a loop of its own, `app_loop`; a request awaited elsewhere blocks until
that loop has answered, so it cannot overlap another. Whatever must share the app's
loop — a motor client binds to the loop that first uses it — or overlap for real (a
burst of concurrent requests) therefore runs on `app_loop` through `call`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from litestar.testing import AsyncTestClient

from tests.support import FakeClock, app_client

T = TypeVar("T")
BASE_URL = "http://testserver.local"


class SyncClient:
    """The async test client (and anything else async) called from synchronous code."""

    def __init__(self, portal: BlockingPortal, client: AsyncTestClient[Any]) -> None:
        self.portal = portal
        self.client = client

    @property
    def runtime(self) -> Any:
        return self.client.app_runtime  # type: ignore[attr-defined]

    @property
    def app_loop(self) -> BlockingPortal:
        portal: BlockingPortal = self.client.blocking_portal
        return portal

    def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function on the app's own event loop."""
        return self.app_loop.call(partial(func, *args, **kwargs))

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.request, method, url, **kwargs))

    def concurrently(self, requests: list[dict[str, Any]]) -> list[httpx.Response]:
        """Send `requests` (httpx.request keyword arguments) at once, really overlapping."""
        return self.call(self._concurrently, requests)

    async def _concurrently(self, requests: list[dict[str, Any]]) -> list[httpx.Response]:
        results: list[httpx.Response | None] = [None] * len(requests)
        transport = httpx.ASGITransport(app=self.client.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as direct:

            async def send(index: int) -> None:
                results[index] = await direct.request(**requests[index])

            async with anyio.create_task_group() as tasks:
                for index in range(len(requests)):
                    tasks.start_soon(send, index)
        return [r for r in results if r is not None]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@contextmanager
def running_app(
    database: Any,
    clock: FakeClock | None = None,
    portal: BlockingPortal | None = None,
    **kwargs: Any,
) -> Iterator[SyncClient]:
    """A payflow (worker off unless asked) on `database`, reachable synchronously."""
    if portal is None:
        with (
            start_blocking_portal(backend="asyncio") as own,
            running_app(database, clock, own, **kwargs) as client,
        ):
            yield client
        return
    with portal.wrap_async_context_manager(
        app_client(database, clock=clock or FakeClock(), **kwargs)
    ) as client:
        yield SyncClient(portal, client)
