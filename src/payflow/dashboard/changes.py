"""The dashboard's live feed: which orders changed, derived from MongoDB, never from memory.

Several payflow processes may share one database, and any of them may take an order
from Pending to Paid, so an in-process notification would miss most changes. Instead
the stream re-reads the newest orders (the page `GET /api/orders` shows first, through
`OrderStore.page` and its existing `(createdAt, _id)` index) every `POLL_SECONDS` and
says which ones are new or changed since the last read. No index is added: an index on
`updatedAt` would cost every order write (each status change moves its key), while
this costs one indexed read of `WINDOW` orders per interval, and only while a dashboard
is open. One order's page watches just that order (the unique `(orderNumber, scope)`
index: a number is unique per API key).

The feed carries only what changed (`orderNumber`, `status`, `updatedAt`); the page
fetches the order itself from the public API, so the API stays the one renderer of an
order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio
from litestar.response.sse import ServerSentEventMessage

from payflow.codec import encode
from payflow.domain.orders import Order
from payflow.store.base import OrderStore
from payflow.timefmt import isoformat

POLL_SECONDS = 1.0
WINDOW = 50  # the orders list's first page
KEEPALIVE_POLLS = 15  # a comment line now and then keeps proxies from closing the stream


@dataclass
class ChangeTracker:
    """Remembers the last (status, updatedAt) seen per order and reports differences."""

    seen: dict[str, tuple[str, str]] = field(default_factory=dict)

    def changed(self, orders: Sequence[Order]) -> list[dict[str, str]]:
        """The orders that are new or changed since the last call, oldest first.

        Orders that left the window are forgotten, so memory stays at `WINDOW` entries.
        """
        current = {
            order.order_number: (order.status.value, isoformat(order.updated_at))
            for order in orders
        }
        changes = [
            {"orderNumber": number, "status": status, "updatedAt": updated}
            for number, (status, updated) in reversed(current.items())
            if self.seen.get(number) != (status, updated)
        ]
        self.seen = current
        return changes


def order_feed(
    orders: OrderStore, scope: str | None, order_number: str | None
) -> Callable[[], Awaitable[Sequence[Order]]]:
    """One read per call: the newest orders this client may see, or just the one watched."""

    async def read() -> Sequence[Order]:
        if order_number is None:
            return (await orders.page(None, WINDOW, None, scope)).orders
        order = await orders.get(order_number, scope)
        return [] if order is None else [order]

    return read


async def change_messages(
    read: Callable[[], Awaitable[Sequence[Order]]],
    keep_going: Callable[[], bool],
    *,
    polls: int | None = None,
    interval: float = POLL_SECONDS,
) -> AsyncIterator[ServerSentEventMessage]:
    """`ready` once the first read is remembered, then an `order` message per change.

    The page fetches its full view on `ready` (after every reconnect too), so a change
    between two connections is never lost. `polls` bounds the loop (tests, and a fresh
    connection now and then); `keep_going` ends it early when the process is stopping.
    """
    tracker = ChangeTracker()
    count = 0
    while keep_going() and (polls is None or count < polls):
        changes = tracker.changed(await read())
        if count == 0:
            yield ServerSentEventMessage(event="ready", data="{}")
        else:
            for change in changes:
                yield ServerSentEventMessage(event="order", data=encode(change).decode())
        count += 1
        if count % KEEPALIVE_POLLS == 0:
            yield ServerSentEventMessage(comment="keep-alive")
        await anyio.sleep(interval)
