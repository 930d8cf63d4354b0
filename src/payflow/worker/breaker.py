"""The sender's side of endpoint health: every attempt's outcome moves the shared breaker.

The state lives on the endpoint's document (`store.endpoints.change_health`, a
compare-and-set), never only here, so every payflow process on the database agrees on
whether an endpoint's circuit is open and exactly one wins each transition. What this
process decided is noted in its endpoint directory at once; what others decided
arrives with the directory's next refresh.

Database round trips: a failed attempt 1 (the compare-and-set from the directory's copy;
+2 per lost race: read, write); a success 0 while the endpoint had no failures, else 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from payflow.domain.endpoint_health import BreakerPolicy, Health, after_failure, after_success
from payflow.domain.endpoints import DEFAULT_ENDPOINT_ID
from payflow.metrics import Metrics
from payflow.store.base import EndpointStore
from payflow.worker.directory import EndpointDirectory

log = structlog.get_logger(__name__)


@dataclass
class Breaker:
    store: EndpointStore
    directory: EndpointDirectory
    policy: BreakerPolicy
    metrics: Metrics

    async def attempted(self, endpoint_id: str, ok: bool, now: datetime) -> None:
        """Count one attempt's outcome against the endpoint."""
        seen = self.directory.health_of(endpoint_id)
        if ok:
            if seen is not None and after_success(seen) is None:
                return  # nothing to forget: no write on the hot path
            await self.change(endpoint_id, after_success, seen)
            return
        # The built-in endpoint is configuration: it opens and closes but is never disabled.
        can_disable = endpoint_id != DEFAULT_ENDPOINT_ID
        await self.change(
            endpoint_id,
            lambda health: after_failure(health, now, self.policy, can_disable=can_disable),
            seen,
        )

    async def change(
        self,
        endpoint_id: str,
        step: Callable[[Health], Health | None],
        seen: Health | None = None,
    ) -> Health | None:
        """Apply `step` to the stored health (compare-and-set); the health written, if any."""
        changed = await self.store.change_health(endpoint_id, step, seen)
        if changed is None:
            return None
        before, after = changed
        self.directory.note(endpoint_id, after)
        self._observe(endpoint_id, before, after)
        return after

    def _observe(self, endpoint_id: str, before: Health, after: Health) -> None:
        bound = log.bind(endpoint_id=endpoint_id, failures=after.failures)
        if before.circuit is not after.circuit:
            self.metrics.circuit_transitions.labels(
                endpoint=endpoint_id, circuit=after.circuit.value
            ).inc()
            bound.warning(
                "endpoint_circuit", circuit=after.circuit.value, open_until=after.open_until
            )
        if before.status is not after.status:
            bound.warning("endpoint_status", status=after.status.value)
