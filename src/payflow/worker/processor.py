"""The jobs of the simulated gateway, top to bottom, each re-runnable after a crash.

Order job (`process_order`), one per order, due at createdAt + simulated delay (and
queued again, due at once, when the order is canceled):
    claim the order's job (lease) → decide what to announce (a Pending order's payment
    outcome, a Canceled order's `order.canceled`) → emit it → mark the job done.
    Before it decides, the job moves a wallet-paid order's money (`payflow.settlement`),
    and an authorization's job is queued again for when it expires instead of done.
Refund job (`process_refund`), one per refund, due when the refund is made:
    claim → credit the wallet of a wallet-paid order → emit `refund.succeeded` → mark done.
Emitting (`emit`, shared): save the event (deterministic id, first bytes win) and make
    it durable → send it to every endpoint that wants it, all at once → record each
    delivery with that first attempt (succeeded, retry later, or dead).
Delivery job (`deliver`), one per (event, endpoint) that needs another attempt:
    claim (lease) → sign and POST → log the attempt → succeeded, retry later, or dead.

Endpoint health (DESIGN §8, `domain.endpoint_health`): an attempt's outcome moves the
endpoint's shared breaker (`worker.breaker`). A delivery whose endpoint holds deliveries
(circuit not closed, backlog draining, disabled) is parked without an attempt, at its
first attempt or when claimed; `worker.recovery` sends the probe and the backlog.
Delivery chaos: an endpoint's first attempts may wait a random time up to its
`reorderWindowMs` (recorded as due later), and a delivered event may be sent once more
(a second attempt logged on the same delivery).

A crash anywhere leaves a lease that expires; the poller hands the job to whichever
process comes next, which repeats the steps. Because the event id is derived from the
order and the delivery id from (event, endpoint), a re-run writes nothing new and
re-sends the very same bytes, which the receiver answers with `duplicate`: an order is
delivered at least once and paid exactly once. A re-run (a job claimed before) first
reads which deliveries exist and sends only where none does; the rest are the delivery
job's. The order's lease covers the first attempts, so a delivery needs no lease of its
own until it is retried.

Database round trips: order and refund jobs 4 + 1 per endpoint that wants the event
(claim, save the event journaled — durable before anything is sent —, record each
delivery with its first attempt, then the journaled finish that makes them durable; for
orders the claim, event, deliveries and finish are batched with other jobs'
(`store.mongo.batching`), so under load they cost a fraction of a round trip each and
a batch shares one journal flush; docs/decisions.md "Journaled last writes"); a
re-run adds 1 (the deliveries that exist). A retry costs 2 (claim, log the attempt,
then the shared flush), and 1 more when its endpoint is not in this process's directory
(looked up by id). A failed attempt adds the breaker's write (`worker.breaker`), as does
the first success after failures; a delivery held back costs 1 (park it) instead of the
attempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import anyio
import structlog

from payflow.codec import encode
from payflow.domain.deliveries import DeliveryState
from payflow.domain.endpoint_health import BreakerPolicy, EndpointStatus
from payflow.domain.endpoints import Endpoint, delivery_id
from payflow.domain.events import Event, payment_event, refund_succeeded_event
from payflow.domain.jobs import JobKind, parse_item
from payflow.domain.orders import Order, OrderStatus
from payflow.ids import token
from payflow.metrics import Metrics
from payflow.settlement import decide, refund_to_wallet, settled_outcome
from payflow.store.base import Attempt, Delivery, Store
from payflow.timefmt import Clock
from payflow.worker.backoff import retry_delay
from payflow.worker.breaker import Breaker
from payflow.worker.channel import WorkQueue
from payflow.worker.directory import EndpointDirectory
from payflow.worker.sender import WebhookSender

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProcessorConfig:
    lease: timedelta
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    authorization_hold: timedelta = timedelta(hours=168)  # [payments] authorization_hours


def new_owner_id() -> str:
    """Identifies this process's leases in the database."""
    return f"w_{token(48)}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one delivery attempt leads to: the state, and when to try again if at all."""

    attempt: Attempt
    state: DeliveryState
    due_at: datetime | None = None
    retry_in_s: float = 0.0
    duplicate_at: datetime | None = None  # chaos: send the delivered event again then


@dataclass(frozen=True, slots=True)
class _Wait:
    """A first attempt held back: due at `due_at`, or parked (None)."""

    due_at: datetime | None


@dataclass
class Processor:
    store: Store
    sender: WebhookSender
    queue: WorkQueue
    clock: Clock
    config: ProcessorConfig
    metrics: Metrics
    owner: str
    endpoints: Callable[[], Sequence[Endpoint]]  # the directory's, or a test's own list
    directory: EndpointDirectory
    breaker_policy: BreakerPolicy
    jitter: Callable[[], float] = random.random  # in [0, 1): where in the backoff window
    chaos_random: random.Random = field(default_factory=random.Random)  # seeded by settings
    breaker: Breaker = field(init=False)

    def __post_init__(self) -> None:
        # Built from this processor's own store, so a copy on another store uses that one.
        self.breaker = Breaker(
            self.store.endpoints, self.directory, self.breaker_policy, self.metrics
        )

    async def run(self, item: str) -> None:
        """Dispatch a queue item (`o:<order id>`, `r:<refund id>` or `d:<delivery id>`)."""
        kind, document_id = parse_item(item)
        if kind is JobKind.DELIVERY:
            await self.deliver_by_id(document_id)
        elif kind is JobKind.REFUND:
            await self.process_refund(document_id)
        else:
            await self.process_order(document_id)

    async def process_order(self, order_id: str) -> None:
        now = self.clock()
        job = await self.store.orders.claim_processing(order_id, self.owner, now, self._lease(now))
        if job is None:
            return  # not due, already done, or another process holds it
        order = job.order
        bound = log.bind(order_number=order.order_number, order_id=order.id)
        if job.took_over:
            self.metrics.lease_takeovers.labels(kind="order").inc()
            bound.info("order_job_taken_over")
        rerun = job.attempts > 1  # claimed before: an earlier run may have done part of it
        decision = await decide(self.store, order, now, self.config.authorization_hold)
        event = decision.event
        if event is None and rerun:
            # A re-run after an earlier run's webhook moved the order: deliver what it saved.
            event = await self._saved_payment_event(order, now)
        if event is None:
            # Decided elsewhere (e.g. a webhook from the developer's own tooling): nothing to emit.
            await self.store.orders.finish_processing(order.id, self.owner, now)
            return
        if order.status is OrderStatus.PENDING:
            self.metrics.orders_processed.labels(result=event.type).inc()
        sent = await self.emit(event, order.order_number, order.scope, now, rerun=rerun)
        if decision.authorized_until is not None:
            # The same job comes back when the authorization expires (the poller's due work).
            await self.store.orders.schedule_expiry(order.id, self.owner, decision.authorized_until)
        else:
            await self.store.orders.finish_processing(order.id, self.owner, self.clock())
        bound.info("order_processed", event_id=event.id, event_type=event.type, deliveries=sent)

    async def _saved_payment_event(self, order: Order, now: datetime) -> Event | None:
        """The payment event an earlier run of this order's job saved, if it did.

        That run may have died after its webhook moved the order and before it recorded
        the delivery: the event must still reach every endpoint (the receiver writes its
        applied receipt then, should the crash have come before it)."""
        outcome = settled_outcome(order)
        if outcome is None:
            return None
        event = payment_event(order, outcome, now)
        saved = await self.store.events.get(event.id)
        return None if saved is None else event  # its saved bytes are what `emit` sends

    async def process_refund(self, refund_id: str) -> None:
        now = self.clock()
        job = await self.store.refunds.claim_processing(
            refund_id, self.owner, now, self._lease(now)
        )
        if job is None:
            return  # already announced, or another process holds it
        refund = job.refund
        if job.took_over:
            self.metrics.lease_takeovers.labels(kind="refund").inc()
        await refund_to_wallet(self.store, refund, now)  # a wallet-paid order's money goes back
        event = refund_succeeded_event(refund, now)
        sent = await self.emit(
            event, refund.order_number, refund.scope, now, rerun=job.attempts > 1
        )
        await self.store.refunds.finish_processing(refund.id, self.owner, self.clock())
        log.info(
            "refund_processed",
            order_number=refund.order_number,
            refund_id=refund.id,
            event_id=event.id,
            deliveries=sent,
        )

    async def emit(
        self,
        event: Event,
        order_number: str,
        scope: str | None,
        now: datetime,
        *,
        rerun: bool,
    ) -> int:
        """Save the event (first bytes win), then send it to each endpoint that wants it and
        record each delivery with that first attempt; how many were sent. A re-run sends
        only where no delivery exists yet: the others are the delivery job's."""
        body = await self.store.events.save(
            event.id, encode(event), event.type, order_number, now, scope
        )
        endpoints = [
            e
            for e in self.endpoints()
            if e.wants(event.type) and e.health.status is EndpointStatus.ENABLED
        ]
        if rerun and endpoints:
            recorded = {d.endpoint_id for d in await self.store.deliveries.for_event(event.id)}
            endpoints = [e for e in endpoints if e.id not in recorded]
        tried: list[tuple[Delivery, _Outcome]] = []
        waiting: list[Delivery] = []

        async def first_attempt(delivery: Delivery, endpoint: Endpoint) -> None:
            tried.append((delivery, await self._try(delivery, endpoint)))

        # All at once: one after the other, a slow endpoint would hold the later ones past
        # the job's lease, and another worker would send them a second time.
        async with anyio.create_task_group() as attempts:
            for endpoint in endpoints:
                delivery = Delivery(
                    id=delivery_id(event.id, endpoint.id),
                    event_id=event.id,
                    event_type=event.type,
                    order_number=order_number,
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    body=body,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                if (wait := self._first_attempt_waits(endpoint, now)) is not None:
                    waiting.append(replace(delivery, next_attempt_at=wait.due_at))
                else:
                    attempts.start_soon(first_attempt, delivery, endpoint)
        # Recorded together once every endpoint has answered (one batched insert), so a
        # reader of the event's deliveries finds all of them or none.
        async with anyio.create_task_group() as records:
            for delivery, outcome in tried:
                records.start_soon(self._conclude, delivery, outcome, True)
            for delivery in waiting:
                records.start_soon(self._record_waiting, delivery)
        return len(endpoints)

    def _first_attempt_waits(self, endpoint: Endpoint, now: datetime) -> _Wait | None:
        """Whether a first attempt is held back: parked behind the endpoint's circuit, or
        late by the endpoint's chaos (None: send it now)."""
        if endpoint.health.holds_deliveries:
            self.metrics.deliveries_deferred.labels(endpoint=endpoint.id).inc()
            return _Wait(None)
        window = endpoint.chaos.reorder_window_ms
        if window > 0:
            delay_ms = self.chaos_random.uniform(0, window)
            self.metrics.chaos.labels(endpoint=endpoint.id, kind="delayed").inc()
            return _Wait(now + timedelta(milliseconds=delay_ms))
        return None

    async def _record_waiting(self, delivery: Delivery) -> None:
        if not await self.store.deliveries.insert_waiting(delivery):
            log.info("delivery_recorded_by_another_run", delivery_id=delivery.id)
            return
        if delivery.next_attempt_at is not None:
            self.queue.schedule(JobKind.DELIVERY.item(delivery.id), delivery.next_attempt_at)

    async def deliver_by_id(self, delivery_id_: str) -> None:
        now = self.clock()
        delivery = await self.store.deliveries.claim(
            delivery_id_, self.owner, now, self._lease(now)
        )
        if delivery is None:
            return
        if delivery.took_over:
            self.metrics.lease_takeovers.labels(kind="delivery").inc()
        endpoint = self._endpoint(delivery.endpoint_id)
        if endpoint is None:
            # Registered through another process since this one last refreshed, or deleted.
            registered = await self.store.endpoints.get(delivery.endpoint_id)
            endpoint = None if registered is None else registered.at(now)
        if endpoint is None:
            # The endpoint was removed: nothing can receive this delivery any more.
            attempt = Attempt(now, delivery.attempts + 1, None, 0.0, "endpoint no longer exists")
            await self.store.deliveries.record_attempt(
                delivery.id, self.owner, attempt, DeliveryState.DEAD, None
            )
            self.metrics.deliveries.labels(result="dead").inc()
            self.metrics.dead_letters.inc()
            return
        if endpoint.health.holds_deliveries:
            # No attempt spent: it waits for the probe, then drains with the backlog.
            await self.store.deliveries.park(delivery.id, self.owner, now)
            self.metrics.deliveries_deferred.labels(endpoint=endpoint.id).inc()
            return
        await self.attempt(delivery, endpoint)

    async def attempt(
        self, delivery: Delivery, endpoint: Endpoint, *, park_on_failure: bool = False
    ) -> DeliveryState:
        """Make one attempt at a leased delivery and record it; the state it led to.
        `park_on_failure`: a failure parks it again (the backlog keeps its order) instead
        of scheduling a retry."""
        outcome = await self._try(delivery, endpoint)
        if park_on_failure and outcome.state is DeliveryState.PENDING:
            outcome = replace(outcome, due_at=None)
        await self._conclude(delivery, outcome)
        return outcome.state

    async def _try(self, delivery: Delivery, endpoint: Endpoint) -> _Outcome:
        """Sign and send one attempt; what it leads to (nothing is written here)."""
        number = delivery.attempts + 1
        result = await self.sender.deliver(
            endpoint, delivery.body, delivery.event_id, number, int(self.clock().timestamp())
        )
        now = self.clock()
        attempt = Attempt(
            at=now,
            number=number,
            status_code=result.status_code,
            latency_ms=round(result.latency_seconds * 1000, 3),
            error=result.error,
            response_excerpt=result.response_excerpt,
        )
        self.metrics.delivery_latency.observe(result.latency_seconds)
        await self.breaker.attempted(endpoint.id, result.ok, now)
        if result.ok:
            return _Outcome(
                attempt,
                DeliveryState.SUCCEEDED,
                duplicate_at=self._duplicate_at(delivery, endpoint, now),
            )
        if number >= self.config.max_attempts:
            return _Outcome(attempt, DeliveryState.DEAD)
        delay = retry_delay(
            number, self.config.retry_base_seconds, self.config.retry_max_seconds, self.jitter
        )
        return _Outcome(attempt, DeliveryState.PENDING, now + timedelta(seconds=delay), delay)

    def _duplicate_at(
        self, delivery: Delivery, endpoint: Endpoint, now: datetime
    ) -> datetime | None:
        """Chaos: when a first success is to be followed by the same event once more."""
        chaos = endpoint.chaos
        if delivery.delivered_at is not None or chaos.duplicate_rate <= 0:
            return None  # one duplicate at most: a redelivered success is not repeated
        if self.chaos_random.random() >= chaos.duplicate_rate:
            return None
        self.metrics.chaos.labels(endpoint=endpoint.id, kind="duplicate").inc()
        delay_ms = self.chaos_random.uniform(0, chaos.reorder_window_ms)
        return now + timedelta(milliseconds=delay_ms)

    async def _conclude(
        self, delivery: Delivery, outcome: _Outcome, unrecorded: bool = False
    ) -> None:
        """Record an attempt's outcome, count it, log it, and queue the retry it asks for.
        `unrecorded`: a first attempt made before its delivery was stored."""
        attempt, state = outcome.attempt, outcome.state
        await self._record(delivery, attempt, state, outcome.due_at, unrecorded=unrecorded)
        bound = log.bind(
            order_number=delivery.order_number,
            event_id=delivery.event_id,
            delivery_id=delivery.id,
            attempt=attempt.number,
            status_code=attempt.status_code,
        )
        if state == DeliveryState.SUCCEEDED:
            self.metrics.deliveries.labels(result="succeeded").inc()
            bound.info("webhook_delivered", latency_ms=attempt.latency_ms)
            if outcome.duplicate_at is not None:
                await self._send_again(delivery, outcome.duplicate_at)
        elif state == DeliveryState.DEAD:
            self.metrics.deliveries.labels(result="dead").inc()
            self.metrics.dead_letters.inc()
            bound.warning("webhook_dead", error=attempt.error)
        else:
            self.metrics.deliveries.labels(result="failed").inc()
            bound.warning(
                "webhook_failed", error=attempt.error, retry_in_s=round(outcome.retry_in_s, 3)
            )
            if outcome.due_at is not None:
                self.queue.schedule(JobKind.DELIVERY.item(delivery.id), outcome.due_at)

    async def _record(
        self,
        delivery: Delivery,
        attempt: Attempt,
        state: DeliveryState,
        due_at: datetime | None,
        *,
        unrecorded: bool,
    ) -> None:
        """A first attempt of an unrecorded delivery records it with the attempt; any other
        is logged on the delivery it leased (if still its holder)."""
        if not unrecorded:
            await self.store.deliveries.record_attempt(
                delivery.id, self.owner, attempt, state, due_at
            )
        elif not await self.store.deliveries.insert_attempted(delivery, attempt, state, due_at):
            # Another run of the same job recorded its own first attempt first: the
            # endpoint got the event twice (it answers the second with `duplicate`).
            log.info("delivery_recorded_by_another_run", delivery_id=delivery.id)

    async def _send_again(self, delivery: Delivery, at: datetime) -> None:
        """Chaos: the same delivery once more (same bytes, event id, a later attempt)."""
        if await self.store.deliveries.redeliver(delivery.id, at) is not None:
            self.queue.schedule(JobKind.DELIVERY.item(delivery.id), at)

    def _lease(self, now: datetime) -> datetime:
        return now + self.config.lease

    def _endpoint(self, endpoint_id: str) -> Endpoint | None:
        return next((e for e in self.endpoints() if e.id == endpoint_id), None)
