"""Which endpoints receive events: the built-in one plus those registered through the API.

The worker asks on every event, so the answer comes from memory: a copy of the
`endpoints` collection, refreshed when this process changes it (the API calls
`refresh`) and by each of the worker's recovery rounds (`worker.recovery`), every poll
interval, so endpoints registered through another process sharing the database are
picked up within a second. Secrets are resolved against the clock at each call, so a
rotation's grace period ends on time without waiting for a refresh.

Each endpoint comes with its health (circuit, status) as last read, and as this process
last changed it (`note`), so a circuit another process opened is seen within a poll
interval, and one this process opened at once.

Database round trips: 2 per refresh (the registered endpoints, the built-in one's health).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from payflow.domain.endpoint_health import Health
from payflow.domain.endpoints import LOAD_LIMIT, Endpoint, RegisteredEndpoint
from payflow.store.base import EndpointStore
from payflow.timefmt import Clock


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

    def health_of(self, endpoint_id: str) -> Health | None:
        """The endpoint's health as this process last saw it (None: not in the directory)."""
        if endpoint_id == self._built_in.id:
            return self._built_in.health
        return next((e.health for e in self._registered if e.id == endpoint_id), None)

    def note(self, endpoint_id: str, health: Health) -> None:
        """This process changed the endpoint's health: use it before the next refresh."""
        if endpoint_id == self._built_in.id:
            self._built_in = replace(self._built_in, health=health)
            return
        self._registered = [
            replace(e, health=health) if e.id == endpoint_id else e for e in self._registered
        ]

    async def refresh(self) -> None:
        self._registered = await self._store.all(LOAD_LIMIT)
        self._built_in = replace(self._built_in, health=await self._store.built_in_health())
