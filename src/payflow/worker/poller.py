"""Feeds due work from MongoDB into the channel: at startup and every poll interval.

Nothing lives only in memory: an order whose id was dropped (full channel, crash,
another process's expired lease) is found here again by its processing state.
"""

from __future__ import annotations

import anyio
import structlog

from payflow.store.base import OrderStore
from payflow.timefmt import Clock
from payflow.worker.channel import WorkQueue

log = structlog.get_logger(__name__)


async def poll_once(orders: OrderStore, queue: WorkQueue, clock: Clock, batch: int) -> int:
    """Queue due and lease-expired jobs this process does not hold yet; returns how many."""
    fed = 0
    for order_id, due_at in await orders.due_for_processing(clock(), batch):
        if order_id not in queue.known and queue.schedule(order_id, due_at):
            fed += 1
    return fed


async def run_poller(
    orders: OrderStore, queue: WorkQueue, clock: Clock, interval: float, batch: int
) -> None:
    while True:
        try:
            fed = await poll_once(orders, queue, clock, batch)
            if fed:
                log.info("poller_fed", count=fed)
        except Exception as exc:
            log.warning("poller_failed", error=str(exc))
        await anyio.sleep(interval)
