"""The fault rules as this process knows them: a copy re-read at most once a refresh.

The hot path must not read the database for every request, so each process keeps the
rule list and re-reads it when it is older than `[faults] refresh_seconds` (1 s by
default): a rule added or deleted through another process applies here within that
time, one through this process at once (`invalidate`). With no rules, that is one
small read per process per refresh interval, whatever the request rate.

Database round trips per request: none, but 1 read for the request that finds the
copy stale, and 1 conditional update when a rule fires (`FaultStore.fire`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import anyio

from payflow.domain.faults import FaultRule, RuleChooser
from payflow.store.base import FaultStore

LOAD_LIMIT = 1000  # more rules than `POST /api/faults` lets anyone create


class CachedRules:
    def __init__(
        self,
        refresh_seconds: float,
        seed: int | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._chooser = RuleChooser(seed)
        self._rules: list[FaultRule] = []
        self._loaded_at = -math.inf
        self._lock = anyio.Lock()

    def invalidate(self) -> None:
        """Re-read on the next request (this process changed the rules)."""
        self._loaded_at = -math.inf

    async def rules(self, store: FaultStore) -> list[FaultRule]:
        if self._stale():
            async with self._lock:  # one read for every request that found it stale
                if self._stale():
                    self._rules = await store.all(LOAD_LIMIT)
                    self._loaded_at = self._monotonic()
        return self._rules

    async def fire_for(self, store: FaultStore, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, counted in the database, or None."""
        rules = await self.rules(store)
        if not rules:
            return None
        rule = self._chooser.choose(rules, method, path)
        if rule is None:
            return None
        if not await store.fire(rule):
            self.invalidate()  # gone, or its count ran out in another process
            return None
        if rule.count is not None:  # keep this copy's count honest until the next read
            self._rules = [r.fired() if r.id == rule.id else r for r in self._rules]
        return rule

    def _stale(self) -> bool:
        return self._monotonic() - self._loaded_at >= self._refresh_seconds
