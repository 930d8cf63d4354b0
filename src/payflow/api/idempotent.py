"""Idempotent POSTs: every route with an `Idempotency-Key` answers through here.

So each of them records 4xx problems for replay, replays byte for byte, and counts
replays and refused keys in the metrics in the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response
from litestar.params import HeaderParameter

from payflow import idempotency
from payflow.api.docs import JSON, PROBLEM_JSON
from payflow.codec import encode
from payflow.errors import IdempotencyInProgress, IdempotencyKeyReused, PayflowError
from payflow.lifespan import Runtime
from payflow.store.base import StoredResponse

Handler = Callable[[idempotency.Claim], Awaitable[StoredResponse | idempotency.SavedWithResult]]
# The handlers read the header themselves (a missing key is `idempotency-key-missing`);
# declaring it puts it in the OpenAPI document.
KeyHeader = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", required=False, description="1-255 visible ASCII"),
]


def stored_problem(problem: PayflowError) -> StoredResponse:
    """A 4xx problem as a recordable response (replayed byte for byte like a success)."""
    body: dict[str, Any] = {
        "type": problem.type_,
        "title": problem.title,
        "status": problem.status_code,
        "detail": problem.detail,
    }
    if isinstance(problem.extra, dict):
        body.update(problem.extra)
    headers = {"content-type": PROBLEM_JSON, **(problem.headers or {})}
    return StoredResponse(problem.status_code, headers, encode(body))


def to_response(stored: StoredResponse) -> Response[bytes]:
    headers = {k: v for k, v in stored.headers.items() if k.lower() != "content-type"}
    return Response(
        content=stored.body,
        status_code=stored.status,
        headers=headers,
        media_type=stored.headers.get("content-type", JSON),
    )


async def respond_once(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    key: str,
    route: str,
    payload: dict[str, Any],
    now: datetime,
    handler: Handler,
    result_order: str | None = None,
) -> Response[bytes]:
    """Run `handler` at most once per client and key; a retry of the POST replays its answer.

    The caller validates `key` and `payload` first, so that a 400 is never recorded and
    the key can be retried with a corrected request. Replays and refused keys are counted.
    `result_order`: a create names its order, whose insert keeps the response.
    """
    try:
        stored = await idempotency.execute(
            runtime.store.idempotency,
            runtime.scope_for(request),
            key,
            idempotency.fingerprint("POST", route, payload),
            now,
            runtime.idempotency_policy,
            handler,
            stored_problem,
            result_order,
        )
    except IdempotencyKeyReused:
        runtime.metrics.idempotency_conflicts.labels(reason="reused").inc()
        raise
    except IdempotencyInProgress:
        runtime.metrics.idempotency_conflicts.labels(reason="in_progress").inc()
        raise
    if idempotency.REPLAYED_HEADER in stored.headers:
        runtime.metrics.idempotent_replays.inc()
    return to_response(stored)
