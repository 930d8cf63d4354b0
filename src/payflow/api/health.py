"""Liveness, readiness and metrics: what an operator or a load balancer polls."""

from __future__ import annotations

import anyio
from litestar import Response, get
from litestar.openapi import ResponseSpec

from payflow.lifespan import RuntimeDep
from payflow.metrics import CONTENT_TYPE_LATEST

READY_TIMEOUT_SECONDS = 2.0
# Litestar appends `; charset=utf-8` to every text/* type itself: don't send it twice.
METRICS_MEDIA_TYPE = "; ".join(
    part.strip()
    for part in CONTENT_TYPE_LATEST.split(";")
    if not part.strip().startswith("charset")
)


@get("/health/live", tags=["operations"], summary="The process is up", sync_to_thread=False)
def live() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/health/ready",
    tags=["operations"],
    summary="Database reachable and worker running",
    responses={
        200: ResponseSpec(dict[str, str], description="Ready", generate_examples=False),
        503: ResponseSpec(
            dict[str, str],
            description="Database unreachable or worker stopped: the body says which",
            generate_examples=False,
        ),
    },
)
async def ready(runtime: RuntimeDep) -> Response[dict[str, object]]:
    database_ok = False
    with anyio.move_on_after(READY_TIMEOUT_SECONDS):
        try:
            await runtime.store.ping()
            database_ok = True
        except Exception:
            database_ok = False
    worker_ok = runtime.worker_alive
    ok = database_ok and worker_ok
    body: dict[str, object] = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if database_ok else "unreachable",
        "worker": "ok" if worker_ok else "stopped",
    }
    return Response(body, status_code=200 if ok else 503)


@get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    include_in_schema=True,
    media_type=METRICS_MEDIA_TYPE,
)
async def metrics(runtime: RuntimeDep) -> Response[bytes]:
    runtime.metrics.queue_depth.set(runtime.queue.depth)
    return Response(runtime.metrics.render(), media_type=METRICS_MEDIA_TYPE)
