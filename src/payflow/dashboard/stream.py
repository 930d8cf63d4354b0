"""`GET /api/dashboard/changes`: the server-sent events stream behind the live pages.

It lives under `/api/` so the API key middleware guards it like any API route: with
keys on, the stream needs `Authorization: Bearer …` (the page reads it with fetch, which
can send that header, rather than EventSource, which cannot) and shows only that key's
orders. It is left out of the OpenAPI document: a stream that never ends is not an
operation a client generator or a fuzzer should call.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent

from payflow.dashboard.changes import POLL_SECONDS, change_messages, order_feed
from payflow.domain.orders import ORDER_NUMBER_PATTERN
from payflow.lifespan import Runtime, RuntimeDep

PATH = "/api/dashboard/changes"
# A connection ends after about five minutes and the page opens a new one (a `ready`
# makes it fetch its view again), so no stream outlives a deploy by long.
MAX_POLLS = int(300 / POLL_SECONDS)


def _serving(runtime: Runtime) -> bool:
    """False once the process is stopping: an open stream must not hold up a shutdown."""
    return runtime.worker is None or not runtime.worker.stopping


@get(PATH, include_in_schema=False, sync_to_thread=False)
def order_changes(
    request: Request[Any, Any, Any],
    runtime: RuntimeDep,
    order_number: Annotated[
        str | None,
        QueryParameter(name="orderNumber", max_length=64, pattern=ORDER_NUMBER_PATTERN),
    ] = None,
) -> ServerSentEvent:
    """`ready`, then an `order` event (`orderNumber`, `status`, `updatedAt`) per change."""
    read = order_feed(runtime.store.orders, runtime.data_scope(request), order_number)
    messages = change_messages(
        read, lambda: _serving(runtime), polls=MAX_POLLS, interval=POLL_SECONDS
    )
    return ServerSentEvent(messages, headers={"Cache-Control": "no-store"})
