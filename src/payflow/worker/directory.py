"""Which endpoints receive events: the built-in one plus those registered through the API.

The worker asks on every event, so the answer comes from memory: a copy of the
`endpoints` collection, refreshed when this process changes it (the API calls
`refresh`) and every poll interval, so endpoints registered through another
process sharing the database are picked up within a second. Secrets are
resolved against the clock at each call, so a rotation's grace period ends on
time without waiting for a refresh.

Database round trips: 1 per refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import structlog

from payflow.domain.endpoints import LOAD_LIMIT, Endpoint, RegisteredEndpoint
from payflow.store.base import EndpointStore
from payflow.timefmt import Clock

log = structlog.get_logger(__name__)


class EndpointDirectory:
    def __init__(self, store: EndpointStore, built_in: Endpoint, clock: Clock) -> None:
        self._store = store
        self._built_in = built_in
        self._clock = clock
        self._registered: Sequence[RegisteredEndpoint] = ()

    @property
    def built_in(self) -> Endpoint:
        return self._built_in

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint as the sender needs it now, the built-in one first."""
        now = self._clock()
        return [self._built_in, *(e.at(now) for e in reversed(self._registered))]

    async def refresh(self) -> None:
        self._registered = await self._store.all(LOAD_LIMIT)

    async def run(self, interval: float) -> None:
        """Refresh every `interval` seconds for the life of the process."""
        while True:
            await anyio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("endpoint_refresh_failed", error=str(exc))
