"""Endpoint recovery, every poll interval: probes, in-order backlogs, announcements.

One round, in every process:
    refresh the endpoint directory (circuits other processes moved) →
    announce each newly disabled endpoint (`endpoint.disabled` to the others) →
    for each endpoint whose cool-down is over, or whose backlog waits to drain: take its
    recovery lease (a compare-and-set on its health: one process wins) and, as holder,
    send ONE probe (the parked delivery of the oldest event); success closes the circuit
    and the rest of the backlog follows one by one, oldest event first, so nothing
    overtakes it; a failure re-opens the circuit (the cool-down doubles) →
    make due again what was parked behind a circuit that is closed by now (a process
    with a stale view may have parked it after the backlog drained).

A holder that dies leaves a lease that expires; the next round's winner carries on.
`endpoint.disabled` is emitted before its `announcePending` flag is cleared, so a crash
in between sends it again under the same event id (at least once, as every event).

Database round trips per round: 2 (directory) + 1 (un-park); per probe or backlog
delivery 3 (take it, the attempt's record, the breaker) and 2 per lease change.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from payflow.domain.deliveries import DeliveryState
from payflow.domain.endpoint_health import (
    CircuitState,
    Health,
    announced,
    drained,
    nothing_to_probe,
    probe_succeeded,
    released,
    take_recovery,
)
from payflow.domain.endpoints import Endpoint
from payflow.domain.events import endpoint_disabled_event
from payflow.worker.processor import Processor

log = structlog.get_logger(__name__)


async def recovery_round(processor: Processor) -> None:
    """One round: refresh, announce, recover what is due, un-park what is free."""
    directory = processor.directory
    await directory.refresh()
    now = processor.clock()
    endpoints = directory.endpoints()
    for endpoint in endpoints:
        if endpoint.health.announce_pending:
            await _announce(processor, endpoint)
    async with anyio.create_task_group() as recoveries:
        for endpoint in endpoints:
            if endpoint.health.needs_recovery(now):
                recoveries.start_soon(_recover, processor, endpoint)
    free = [e.id for e in directory.endpoints() if not e.health.holds_deliveries]
    if await processor.store.deliveries.unpark(free, now):
        log.info("deliveries_unparked", endpoints=free)


async def run_recovery(processor: Processor, interval: float) -> None:
    """A round every `interval` seconds for the life of the worker."""
    while True:
        try:
            await recovery_round(processor)
        except Exception as exc:
            log.warning("endpoint_recovery_failed", error=str(exc))
        await anyio.sleep(interval)


async def _recover(processor: Processor, endpoint: Endpoint) -> None:
    """Probe, then drain the backlog in event order, as the holder of the recovery lease."""
    owner, breaker = processor.owner, processor.breaker
    now = processor.clock()
    lease = processor.config.lease

    def take(health: Health) -> Health | None:
        return take_recovery(health, owner, now, lease) if health.needs_recovery(now) else None

    health = await breaker.change(endpoint.id, take, endpoint.health)
    if health is None:
        return  # another process won the lease
    bound = log.bind(endpoint_id=endpoint.id)
    probing = health.circuit is CircuitState.HALF_OPEN
    while True:
        now = processor.clock()
        delivery = await processor.store.deliveries.claim_oldest_parked(
            endpoint.id, owner, now, now + lease
        )
        if delivery is None:
            finish = nothing_to_probe if probing else drained
            await breaker.change(endpoint.id, _holding(owner, finish))
            bound.info("endpoint_nothing_to_probe" if probing else "endpoint_backlog_drained")
            return
        state = await processor.attempt(delivery, endpoint, park_on_failure=True)
        if state is not DeliveryState.SUCCEEDED:
            # The breaker counted the failure (a failed probe re-opened the circuit and
            # gave the lease back); a drain that stopped short resumes next round.
            await breaker.change(endpoint.id, _holding(owner, released))
            bound.info("endpoint_recovery_stopped", probe=probing)
            return
        if probing:
            await breaker.change(endpoint.id, _holding(owner, probe_succeeded))
            bound.info("endpoint_probe_succeeded")
            probing = False


def _holding(owner: str, step: Callable[[Health], Health]) -> Callable[[Health], Health | None]:
    """`step`, only while `owner` still holds the recovery lease."""
    return lambda health: step(health) if health.lease_owner == owner else None


async def _announce(processor: Processor, endpoint: Endpoint) -> None:
    """Send `endpoint.disabled` to the other endpoints, then clear the flag."""
    health = endpoint.health
    if health.disabled_at is None:
        return
    event = endpoint_disabled_event(
        endpoint.id, endpoint.url, health.failing_since, health.disabled_at
    )
    sent = await processor.emit(event, "", None, processor.clock(), rerun=True)
    await processor.breaker.change(endpoint.id, _announced_step)
    log.warning("endpoint_disabled_announced", endpoint_id=endpoint.id, deliveries=sent)


def _announced_step(health: Health) -> Health | None:
    return announced(health) if health.announce_pending else None
