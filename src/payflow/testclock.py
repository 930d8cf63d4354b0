"""payflow's time in test mode: it stands still until someone advances it.

Everything in payflow reads the time through one `Clock` (a call that returns now),
so a test clock is just another such call (Stripe's test clocks, moto's frozen time).
Its time lives in the database (`store.clock`), not in this process: DESIGN §6 keeps
no state in a payflow process, so two processes on one database agree on the time,
and a restarted process carries on from where the clock stood.

Calling the clock must not wait on the database, so each process keeps the time it last
read: its own advance updates it at once, and `follow` reads the database every poll
interval, so an advance made through another process is seen within one interval.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio
import structlog

from payflow.store.base import ClockStore

log = structlog.get_logger(__name__)

MAX_ADVANCE_SECONDS = 10 * 366 * 24 * 3600  # ten years at once is plenty


class TestClock:
    """A `Clock` whose time moves only through `advance` (in any process on the database)."""

    __test__ = False  # a name pytest would otherwise try to collect

    def __init__(self, store: ClockStore, start: datetime) -> None:
        self._store = store
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    async def start(self) -> datetime:
        """Adopt the database's time; `start` (given at construction) only when it has none."""
        self._now = await self._store.start(self._now)
        return self._now

    async def advance(self, seconds: float) -> datetime:
        """Move the shared time on by `seconds` (≥ 0); the time after it."""
        milliseconds = round(seconds * 1000)
        try:
            moved = await self._store.advance(milliseconds)
        except LookupError:  # the clock document is gone (a dropped database): start again
            await self._store.start(self._now)
            moved = await self._store.advance(milliseconds)
        self._now = max(self._now, moved)
        return self._now

    async def refresh(self) -> bool:
        """Read the shared time; True when another process has moved it on."""
        stored = await self._store.read()
        if stored is None or stored <= self._now:
            return False
        self._now = stored
        return True

    async def follow(self, interval: float, on_change: Callable[[], None]) -> None:
        """Every `interval`, pick up advances made elsewhere; `on_change` after each."""
        while True:
            await anyio.sleep(interval)
            try:
                changed = await self.refresh()
            except Exception as exc:  # the database is away: the poller says so too
                log.warning("test_clock_refresh_failed", error=str(exc))
                continue
            if changed:
                log.info("test_clock_moved", now=self._now.isoformat())
                on_change()
