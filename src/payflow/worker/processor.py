"""One order's payment job, top to bottom: claim → decide → record event → deliver → finish.

Every step is re-runnable. The claim is a lease (compare-and-set on the order
document), so two processes never work the same order at once and a crashed
holder's job is taken over when its lease expires. The event id is derived from
the order, and the event body is stored before it is sent, so a re-run re-sends
the very same bytes and the receiver answers `duplicate`: paid exactly once.

Database round trips per attempt: 3 (claim, save event, finish or reschedule).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog

from payflow.api.schemas import encode
from payflow.domain.events import payment_event
from payflow.domain.orders import OrderStatus
from payflow.domain.payment_methods import outcome_for
from payflow.metrics import Metrics
from payflow.store.base import Store
from payflow.timefmt import Clock
from payflow.worker.backoff import retry_delay
from payflow.worker.channel import WorkQueue
from payflow.worker.sender import WebhookSender

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProcessorConfig:
    target_url: str
    lease: timedelta
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float


def new_owner_id() -> str:
    """Identifies this process's leases in the database."""
    return f"w_{uuid.uuid4().hex[:12]}"


@dataclass
class Processor:
    store: Store
    sender: WebhookSender
    queue: WorkQueue
    clock: Clock
    config: ProcessorConfig
    metrics: Metrics
    owner: str

    async def process(self, order_id: str) -> None:
        now = self.clock()
        job = await self.store.orders.claim_processing(
            order_id, self.owner, now, now + self.config.lease
        )
        if job is None:
            return  # not due, already done, or another process holds it
        order = job.order
        bound = log.bind(order_number=order.order_number, order_id=order.id, attempt=job.attempts)
        if job.took_over:
            self.metrics.lease_takeovers.labels(kind="order").inc()
            bound.info("lease_taken_over")
        if order.status is not OrderStatus.PENDING:
            # Already decided (our earlier delivery, or a webhook from elsewhere): nothing to send.
            await self.store.orders.finish_processing(order.id, self.owner, now)
            return
        outcome = outcome_for(order.payment_method)
        event = payment_event(order, outcome, now)
        body = await self.store.events.save(
            event["id"], encode(event), event["type"], order.order_number, now
        )
        self.metrics.orders_processed.labels(result=event["type"]).inc()
        result = await self.sender.deliver(
            self.config.target_url, body, event["id"], job.attempts, int(self.clock().timestamp())
        )
        self.metrics.delivery_latency.observe(result.latency_seconds)
        bound = bound.bind(event_id=event["id"], status_code=result.status_code)
        if result.ok:
            self.metrics.deliveries.labels(result="succeeded").inc()
            await self.store.orders.finish_processing(order.id, self.owner, self.clock())
            bound.info("webhook_delivered", latency_ms=round(result.latency_seconds * 1000, 1))
            return
        dead = job.attempts >= self.config.max_attempts
        delay = retry_delay(
            job.attempts, self.config.retry_base_seconds, self.config.retry_max_seconds
        )
        due_at = self.clock() + timedelta(seconds=delay)
        await self.store.orders.retry_processing(
            order.id, self.owner, due_at, result.error or "delivery failed", dead
        )
        self.metrics.deliveries.labels(result="dead" if dead else "failed").inc()
        bound.warning("webhook_failed", error=result.error, dead=dead, retry_in_s=round(delay, 3))
        if not dead:
            self.queue.done(order.id)
            self.queue.schedule(order.id, due_at)
