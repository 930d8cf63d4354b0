"""Start and stop everything a running payflow holds, in order, and undo it in reverse.

database (embedded server when no URI) → indexes → webhook transport → worker tasks;
the `Runtime` they make up is what controllers receive by dependency injection.
"""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import anyio
import httpx
import structlog
from litestar.di import NamedDependency

from payflow.config import DEFAULT_SECRET, Settings
from payflow.domain.endpoints import ALL_EVENTS, DEFAULT_ENDPOINT_ID, Endpoint
from payflow.domain.events import ORDER_EVENT_TYPES
from payflow.idempotency import Policy
from payflow.metrics import Metrics
from payflow.store.base import GLOBAL_SCOPE as GLOBAL_SCOPE  # still importable from here
from payflow.store.base import Store
from payflow.store.mongo import MongoStore
from payflow.testclock import TestClock
from payflow.timefmt import Clock, utc_now
from payflow.worker.channel import WorkQueue
from payflow.worker.directory import EndpointDirectory
from payflow.worker.processor import Processor, ProcessorConfig, new_owner_id
from payflow.worker.runner import Worker
from payflow.worker.sender import WebhookSender

if TYPE_CHECKING:
    from litestar import Litestar, Request

log = structlog.get_logger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Runtime:
    """What request handlers and the worker share; one per application."""

    settings: Settings
    store: Store
    clock: Clock
    queue: WorkQueue
    metrics: Metrics
    directory: EndpointDirectory
    mongo_uri: str = ""
    worker: Worker | None = None
    test_clock: TestClock | None = None  # `clock` itself in `[clock] mode = "test"`

    @property
    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.alive

    @property
    def processing_delay(self) -> timedelta:
        return timedelta(seconds=self.settings.processing.delay_seconds)

    @property
    def idempotency_policy(self) -> Policy:
        s = self.settings.idempotency
        return Policy(
            retention=timedelta(hours=s.retention_hours),
            lease=timedelta(seconds=s.lease_seconds),
            retry_after_seconds=s.retry_after_seconds,
        )

    def scope_for(self, request: Request[Any, Any, Any]) -> str:
        """Idempotency keys and data are scoped per client; one global scope without auth."""
        return self.data_scope(request) or GLOBAL_SCOPE

    def data_scope(self, request: Request[Any, Any, Any]) -> str | None:
        """Whose orders this request may see: its API key's (the id `api.access` put in
        `scope["user"]`), or everyone's (None) when API keys are off."""
        client = request.scope.get("user")
        return client if isinstance(client, str) else None


@dataclass
class Overrides:
    """Test seams: an injected clock, database or HTTP transport replaces the real one."""

    clock: Clock = utc_now
    database: Any = None  # a motor (or mongomock-motor) database
    http_transport: httpx.AsyncBaseTransport | None = None  # where webhooks are sent
    journaled: bool = True
    run_worker: bool = True
    deliver_in_process: bool = False  # webhooks go straight to this app, without a socket


# How controllers ask for the runtime (Litestar wants named dependencies spelled out).
RuntimeDep = NamedDependency[Runtime]


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def provide_runtime(request: Request[Any, Any, Any]) -> Runtime:
    return runtime_of(request.app)


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    overrides: Overrides = app.state.overrides
    async with contextlib.AsyncExitStack() as stack:
        database, uri, replicated = await stack.enter_async_context(
            _database(settings, overrides, partial(_give_up, app))
        )
        store = MongoStore(database, journaled=overrides.journaled, replicated=replicated)
        await store.ensure_indexes()
        transport = overrides.http_transport
        if transport is None:
            transport = await stack.enter_async_context(
                httpx.ASGITransport(app=cast("Any", app))
                if overrides.deliver_in_process
                else httpx.AsyncHTTPTransport()
            )
        test_clock = await _start_test_clock(settings, store, overrides.clock)
        clock = test_clock or overrides.clock
        queue = WorkQueue(settings.processing.queue_size, clock)
        stack.push_async_callback(queue.aclose)
        directory = EndpointDirectory(store.endpoints, default_endpoint(settings), clock)
        await directory.refresh()
        runtime = Runtime(
            settings,
            store,
            clock,
            queue,
            Metrics(),
            directory,
            mongo_uri=uri,
            test_clock=test_clock,
        )
        app.state.runtime = runtime
        app.state.http_transport = transport
        _warn_about_default_secret(settings)
        async with anyio.create_task_group() as tasks:
            if overrides.run_worker:
                runtime.worker = build_worker(runtime, transport)
                await tasks.start(runtime.worker.run)  # its recovery rounds refresh `directory`
            if test_clock is not None:
                interval = settings.processing.poll_interval_seconds
                tasks.start_soon(test_clock.follow, interval, queue.nudge)
            print_banner(settings, uri)
            try:
                yield
            finally:
                if runtime.worker is not None:
                    await runtime.worker.stop(settings.processing.shutdown_grace_seconds)
                tasks.cancel_scope.cancel()


async def _start_test_clock(settings: Settings, store: Store, real: Clock) -> TestClock | None:
    """In test mode, the clock shared through the database (from `[clock] start` or now)."""
    if settings.clock.mode != "test":
        return None
    clock = TestClock(store.clock, settings.clock.start_at or real())
    now = await clock.start()
    log.info("test_clock_started", now=now.isoformat())
    return clock


@contextlib.asynccontextmanager
async def _database(
    settings: Settings, overrides: Overrides, give_up: Callable[[str], None]
) -> AsyncIterator[tuple[Any, str, bool]]:
    """The database, its URI, and whether it lives on a replica set."""
    if overrides.database is not None:
        yield overrides.database, "", False
        return
    from payflow.store.mongo.client import on_a_replica_set, open_client

    async with contextlib.AsyncExitStack() as stack:
        uri = settings.mongo.uri
        if not uri:
            from payflow.database_process import run_supervised

            # Restarted on the same port when it dies, so this URI stays right (§8).
            supervisor = await stack.enter_async_context(
                run_supervised(
                    settings.embedded_data_dir,
                    give_up,
                    port=settings.embedded.port,
                    startup_timeout=settings.embedded.startup_timeout_seconds,
                )
            )
            uri = supervisor.server.uri
        client = open_client(uri)
        stack.callback(client.close)
        await client.admin.command("ping")
        yield client[settings.mongo.database], uri, await on_a_replica_set(client)


def _give_up(app: Litestar, reason: str) -> None:
    """The embedded database will not come back: say why, and have the server stop.

    `serving` sees ``app.state.fatal`` on its next tick, shuts down as for SIGTERM, and
    the process exits non-zero (`FATAL_EXIT_CODE`)."""
    print(f"payflow: stopping: {reason}", file=sys.stderr, flush=True)
    app.state.fatal = reason


def default_endpoint(settings: Settings) -> Endpoint:
    """The endpoint configured in settings: by default this process's own receiver."""
    return Endpoint(
        id=DEFAULT_ENDPOINT_ID,
        url=settings.webhook_target_url,
        scheme=settings.webhooks.scheme,
        secrets=settings.webhook_secrets,
        # payflow's own receiver knows order events only; a configured target gets all.
        events=(ALL_EVENTS,) if settings.webhooks.target_url else ORDER_EVENT_TYPES,
    )


def build_processor(runtime: Runtime, transport: httpx.AsyncBaseTransport) -> Processor:
    settings = runtime.settings
    webhooks = settings.webhooks
    return Processor(
        store=runtime.store,
        sender=WebhookSender(transport, settings.webhooks.timeout_seconds),
        queue=runtime.queue,
        clock=runtime.clock,
        config=ProcessorConfig(
            lease=timedelta(seconds=settings.processing.lease_seconds),
            max_attempts=settings.processing.max_attempts,
            retry_base_seconds=settings.processing.retry_base_seconds,
            retry_max_seconds=settings.processing.retry_max_seconds,
            authorization_hold=timedelta(hours=settings.payments.authorization_hours),
        ),
        metrics=runtime.metrics,
        owner=new_owner_id(),
        endpoints=runtime.directory.endpoints,
        directory=runtime.directory,
        breaker_policy=webhooks.breaker_policy,
        chaos_random=random.Random(None if webhooks.chaos_seed < 0 else webhooks.chaos_seed),  # noqa: S311
    )


def build_worker(runtime: Runtime, transport: httpx.AsyncBaseTransport) -> Worker:
    processing = runtime.settings.processing
    return Worker(
        build_processor(runtime, transport),
        runtime.queue,
        concurrency=processing.concurrency,
        poll_interval=processing.poll_interval_seconds,
        poll_batch=processing.queue_size,
    )


def _warn_about_default_secret(settings: Settings) -> None:
    if DEFAULT_SECRET in settings.webhook_secrets and settings.server.host not in LOOPBACK_HOSTS:
        message = (
            f"WARNING: the webhook secret is the public default {DEFAULT_SECRET!r} and payflow "
            f"listens on {settings.server.host}, not loopback. Anyone who can reach it can forge "
            "payments. Set PAYFLOW_WEBHOOKS__SECRET."
        )
        log.warning("default_webhook_secret_off_loopback", host=settings.server.host)
        print(message, file=sys.stderr, flush=True)


def print_banner(settings: Settings, mongo_uri: str) -> None:
    if not mongo_uri:
        return
    base = settings.base_url
    lines = [
        f"payflow is running on {base}",
        f"  API      {base}/api/orders",
        f"  Swagger  {base}/swagger/index.html",
        f"  Dashboard {base}/dashboard",
        f"  Health   {base}/health/ready    Metrics {base}/metrics",
        f'  mongosh  npx --yes mongosh@2 "{_mongosh_uri(mongo_uri, settings.mongo.database)}"',
        f"  Webhooks signed ({settings.webhooks.scheme}) to {settings.webhook_target_url}",
    ]
    if settings.clock.mode == "test":
        lines.append(f"  Clock    test: stands still until POST {base}/api/test-clock/advance")
    print("\n".join(lines), flush=True)


def _mongosh_uri(uri: str, database: str) -> str:
    base, _, query = uri.partition("?")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{database}" + (f"?{query}" if query else "")
