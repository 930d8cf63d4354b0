"""Feeds due work from MongoDB into the channel: at startup, every poll interval, and at
once when the queue is nudged (a test clock's advance made work due).

Nothing lives only in memory: an order job or a delivery whose id was dropped (full
channel, crash, another process's expired lease, a retry scheduled by a process that
has since stopped) is found here again by its state in the database.

A round is skipped while this process already has due work waiting on its channel
(`busy_at` ids or more): whatever the database adds would queue behind it, and the
look-up would read every job this process is working through (on a backlog, thousands
of documents a second, a fifth of the embedded server's time in `scripts/bench`'s end to
end run). The next round after the backlog drains finds what was missed.
"""

from __future__ import annotations

import structlog

from payflow.domain.jobs import JobKind
from payflow.store.base import Store
from payflow.timefmt import Clock
from payflow.worker.channel import WorkQueue

log = structlog.get_logger(__name__)


async def poll_once(
    store: Store, queue: WorkQueue, clock: Clock, batch: int, busy_at: int | None = None
) -> int:
    """Queue due and lease-expired jobs this process does not hold yet; returns how many.

    Nothing is looked up while `busy_at` or more due ids wait on the channel."""
    now = clock()
    fed = 0
    queue.wake()  # ids already scheduled here that are due by now go out at once
    if busy_at is not None and queue.ready >= busy_at:
        return 0
    sources = (
        (JobKind.ORDER, store.orders.due_for_processing),
        (JobKind.REFUND, store.refunds.due_for_processing),
        (JobKind.DELIVERY, store.deliveries.due),
    )
    for kind, due in sources:
        room = queue.room
        if room <= 0:
            break
        for item_id, due_at in await due(now, min(batch, room)):
            item = kind.item(item_id)
            if item not in queue.known and queue.schedule(item, due_at):
                fed += 1
    return fed


async def run_poller(
    store: Store, queue: WorkQueue, clock: Clock, interval: float, batch: int, busy_at: int
) -> None:
    while True:
        try:
            fed = await poll_once(store, queue, clock, batch, busy_at)
            if fed:
                log.info("poller_fed", count=fed)
        except Exception as exc:
            log.warning("poller_failed", error=str(exc))
        await queue.until_next_poll(interval)
