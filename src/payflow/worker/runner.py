"""The worker's life: N consumers on the channel, the timer, the poller, endpoint
recovery (which also refreshes the endpoint directory), and a clean stop.

Stopping (SIGTERM/SIGINT) goes: stop taking new work (timer and poller end, consumers
drop what they receive — it is still in MongoDB), let in-flight jobs finish within the
grace period, cancel what is left, then hand this process's leases back so another
process, or the next start, takes the work over at once instead of after the lease.
"""

from __future__ import annotations

from typing import Any

import anyio
import structlog

from payflow.store.base import StoreUnavailable
from payflow.worker.channel import WorkQueue
from payflow.worker.poller import run_poller
from payflow.worker.processor import Processor
from payflow.worker.recovery import run_recovery

log = structlog.get_logger(__name__)


class Worker:
    def __init__(
        self,
        processor: Processor,
        queue: WorkQueue,
        *,
        concurrency: int,
        poll_interval: float,
        poll_batch: int,
    ) -> None:
        self.processor = processor
        self.queue = queue
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.poll_batch = poll_batch
        self.alive = False
        self.in_flight = 0
        self._stopping = False
        self._stopped = False
        self._idle = anyio.Event()
        self._intake = anyio.CancelScope()
        self._all = anyio.CancelScope()

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled or stopped; `task_status.started()` once consumers wait."""
        p = self.processor
        with self._all:
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._run_intake, p)
                    for _ in range(self.concurrency):
                        tasks.start_soon(self._consume)
                    self.alive = True
                    task_status.started()
            finally:
                self.alive = False

    async def _run_intake(self, p: Processor) -> None:
        with self._intake:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self.queue.run_timer)
                tasks.start_soon(
                    run_poller,
                    p.store,
                    self.queue,
                    p.clock,
                    self.poll_interval,
                    self.poll_batch,
                    self.concurrency,  # every worker has a due job next: the poll can wait
                )
                tasks.start_soon(run_recovery, p, self.poll_interval)

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def _consume(self) -> None:
        async for item in self.queue.receive:
            # Taken off the queue before it runs, so a retry the job schedules for itself
            # stays queued (and counted) instead of being forgotten when the job returns.
            self.queue.done(item)
            if self._stopping:
                continue  # still in MongoDB; whoever runs next picks it up
            self.in_flight += 1
            try:
                await self.processor.run(item)
            except StoreUnavailable as exc:
                # The database is out of reach (restarting, failing over): the job's lease
                # runs out and the poller feeds it again once the database is back.
                log.warning("job_deferred_database_unavailable", item=item, error=str(exc))
            except Exception:
                log.exception("job_failed", item=item)
            finally:
                self.in_flight -= 1
                if self._stopping and self.in_flight == 0:
                    self._idle.set()

    async def stop(self, grace_seconds: float) -> None:
        """Finish in-flight jobs (up to the grace period), then release leases.

        Idempotent: the server stops the worker before closing its socket, and the app's
        shutdown asks again.
        """
        if self._stopped:
            return
        self._stopping = True
        self._intake.cancel()
        if self.in_flight:
            log.info("worker_draining", in_flight=self.in_flight, grace_s=grace_seconds)
            with anyio.move_on_after(grace_seconds):
                await self._idle.wait()
        self._all.cancel()
        p = self.processor
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            now = p.clock()
            try:
                orders = await p.store.orders.release_leases(p.owner, now)
                refunds = await p.store.refunds.release_leases(p.owner, now)
                deliveries = await p.store.deliveries.release_leases(p.owner, now)
            except StoreUnavailable as exc:
                # The database is gone (the reason payflow stops, perhaps): the leases
                # expire instead, and whoever runs next takes the work over then.
                self._stopped = True
                log.warning("worker_stopped_leases_kept", error=str(exc))
                return
            self._stopped = True
            log.info(
                "worker_stopped",
                released_orders=orders,
                released_refunds=refunds,
                released_deliveries=deliveries,
            )
