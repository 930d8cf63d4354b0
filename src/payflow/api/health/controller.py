"""Liveness, readiness and metrics: what an operator or a load balancer polls."""

from __future__ import annotations

import anyio
from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from payflow.api.dependencies import Database, MetricsDep, Queue, WorkerAlive, provide
from payflow.api.health.schemas import Live, Ready
from payflow.api.responses import ExactJSON
from payflow.metrics import CONTENT_TYPE_LATEST

READY_TIMEOUT_SECONDS = 2.0
# Litestar appends `; charset=utf-8` to every text/* type itself: don't send it twice.
METRICS_MEDIA_TYPE = "; ".join(
    part.strip()
    for part in CONTENT_TYPE_LATEST.split(";")
    if not part.strip().startswith("charset")
)


class HealthController(Controller):
    path = "/"
    tags = ["operations"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("database", "worker_alive", "metrics", "queue")

    @get("/health/live", summary="The process is up", sync_to_thread=False)
    def live(self) -> Live:
        return Live(status="ok")

    @get(
        "/health/ready",
        summary="Database reachable and worker running",
        responses={
            503: ResponseSpec(
                Ready,
                description="Database unreachable or worker stopped: the body says which",
                generate_examples=False,
            ),
        },
    )
    async def ready(self, database: Database, worker_alive: WorkerAlive) -> ExactJSON[Ready]:
        database_ok = False
        with anyio.move_on_after(READY_TIMEOUT_SECONDS):
            try:
                await database.ping()
                database_ok = True
            except Exception:
                database_ok = False
        ok = database_ok and worker_alive
        body = Ready(
            status="ok" if ok else "unavailable",
            database="ok" if database_ok else "unreachable",
            worker="ok" if worker_alive else "stopped",
        )
        return ExactJSON(body, status_code=200 if ok else 503)

    @get("/metrics", summary="Prometheus metrics", media_type=METRICS_MEDIA_TYPE)
    async def metrics(self, metrics: MetricsDep, queue: Queue) -> Response[bytes]:
        metrics.queue_depth.set(queue.depth)
        return Response(metrics.render(), media_type=METRICS_MEDIA_TYPE)
