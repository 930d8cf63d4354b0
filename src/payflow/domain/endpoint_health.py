"""Endpoint health: the circuit breaker, automatic disabling, and delivery chaos (pure).

    closed ──N consecutive failures──▶ open ──cool-down over, one process probes──▶ half-open
      ▲                                 ▲                                              │
      │                                 └──────── probe fails (cool-down doubles) ─────┤
      └──── backlog drained in event order (`draining`) ◀──────── probe succeeds ──────┘

While the circuit is open or half-open, and while the backlog drains, an endpoint's
deliveries wait *parked* and spend no attempts; one process at a time (the holder of the
recovery lease, won by a compare-and-set on `version`) sends the probe and then the
backlog, oldest event first, so nothing overtakes it. An endpoint without a success for
`disable_after` is `disabled`: it gets no new deliveries until it is enabled again, and
`endpoint.disabled` is announced (`announce_pending` survives a crash until it is sent).

Every function takes the time from its caller and returns a new `Health`; the store keeps
it on the endpoint's document and writes it only if `version` is still what was read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"  # deliveries are attempted as they come
    OPEN = "open"  # deliveries wait, no attempts, until `open_until`
    HALF_OPEN = "half-open"  # one probe in flight


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"  # no success for `disable_after`; POST …/enable brings it back


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5  # consecutive failed attempts that open the circuit
    cooldown: timedelta = timedelta(seconds=30)  # the first open period; doubles each time
    max_cooldown: timedelta = timedelta(minutes=10)
    disable_after: timedelta | None = timedelta(hours=120)  # None: never disabled


@dataclass(frozen=True, slots=True)
class Health:
    """An endpoint's health as stored on its document; `version` guards every change."""

    status: EndpointStatus = EndpointStatus.ENABLED
    circuit: CircuitState = CircuitState.CLOSED
    failures: int = 0  # consecutive failed attempts
    failing_since: datetime | None = None  # first failure since the last success
    open_until: datetime | None = None
    cooldown_seconds: float = 0.0  # the last open period (0: never opened since a success)
    draining: bool = False  # the probe succeeded; the parked backlog is being sent in order
    lease_owner: str | None = None  # who sends the probe / drains the backlog
    lease_until: datetime | None = None
    disabled_at: datetime | None = None
    announce_pending: bool = False  # `endpoint.disabled` still to be emitted
    version: int = 0

    @property
    def holds_deliveries(self) -> bool:
        """Deliveries wait parked instead of being attempted."""
        return (
            self.circuit is not CircuitState.CLOSED
            or self.draining
            or self.status is EndpointStatus.DISABLED
        )

    def needs_recovery(self, now: datetime) -> bool:
        """A probe is due, or a backlog waits to drain, and nobody holds the lease."""
        if self.status is EndpointStatus.DISABLED:
            return False
        lease_free = self.lease_until is None or self.lease_until <= now
        if self.circuit is CircuitState.OPEN:
            return lease_free and self.open_until is not None and self.open_until <= now
        return lease_free and (self.circuit is CircuitState.HALF_OPEN or self.draining)


def _next(health: Health, **changes: object) -> Health:
    return replace(health, version=health.version + 1, **changes)  # type: ignore[arg-type]


def after_success(health: Health) -> Health | None:
    """A normal attempt succeeded: forget the failures (None: nothing to write)."""
    if health.failures == 0 and health.failing_since is None:
        return None
    if health.circuit is not CircuitState.CLOSED or health.draining:
        return None  # the recovery lease holder moves the circuit, not a stray attempt
    return _next(health, failures=0, failing_since=None, cooldown_seconds=0.0)


def after_failure(
    health: Health, now: datetime, policy: BreakerPolicy, *, can_disable: bool = True
) -> Health:
    """A failed attempt: count it; open the circuit at the threshold (a failed probe
    re-opens it with the cool-down doubled); disable past `disable_after`."""
    failing_since = health.failing_since or now
    failures = health.failures + 1
    changes: dict[str, object] = {"failures": failures, "failing_since": failing_since}
    reopening = health.circuit is CircuitState.HALF_OPEN
    if reopening or (health.circuit is CircuitState.CLOSED and failures >= policy.failures):
        seconds = _cooldown(health.cooldown_seconds, policy)
        changes.update(
            circuit=CircuitState.OPEN,
            open_until=now + timedelta(seconds=seconds),
            cooldown_seconds=seconds,
            draining=False,
            lease_owner=None,
            lease_until=None,
        )
    limit = policy.disable_after
    if can_disable and limit is not None and now - failing_since >= limit:
        changes.update(
            status=EndpointStatus.DISABLED,
            disabled_at=now,
            announce_pending=True,
            circuit=CircuitState.OPEN,
            draining=False,
            lease_owner=None,
            lease_until=None,
        )
    return _next(health, **changes)


def _cooldown(previous_seconds: float, policy: BreakerPolicy) -> float:
    """The first open period after a success is the base; each one after it doubles."""
    if not previous_seconds:
        return policy.cooldown.total_seconds()
    return min(previous_seconds * 2, policy.max_cooldown.total_seconds())


def take_recovery(health: Health, owner: str, now: datetime, lease: timedelta) -> Health:
    """The lease to probe (an open circuit becomes half-open) or to drain the backlog."""
    circuit = CircuitState.HALF_OPEN if health.circuit is CircuitState.OPEN else health.circuit
    return _next(health, circuit=circuit, lease_owner=owner, lease_until=now + lease)


def probe_succeeded(health: Health) -> Health:
    """The probe got through: the circuit closes and the backlog drains, oldest first."""
    return _next(
        health,
        circuit=CircuitState.CLOSED,
        failures=0,
        failing_since=None,
        open_until=None,
        cooldown_seconds=0.0,
        draining=True,
    )


def nothing_to_probe(health: Health) -> Health:
    """The cool-down ended with no delivery waiting: close; the next attempt tells."""
    return _next(
        health, circuit=CircuitState.CLOSED, open_until=None, lease_owner=None, lease_until=None
    )


def drained(health: Health) -> Health:
    """The backlog is empty: deliveries flow again as they come."""
    return _next(health, draining=False, lease_owner=None, lease_until=None)


def released(health: Health) -> Health:
    """Give the lease back (the drain stopped on a failure; the next round resumes it)."""
    return _next(health, lease_owner=None, lease_until=None)


def enabled(health: Health) -> Health:
    """`POST …/enable`: a closed circuit and a fresh failing window; a parked backlog
    (left from before the endpoint was disabled) drains in order."""
    return replace(Health(draining=health.holds_deliveries), version=health.version + 1)


def announced(health: Health) -> Health:
    return _next(health, announce_pending=False)


@dataclass(frozen=True, slots=True)
class Chaos:
    """Delivery chaos of one endpoint: some events arrive twice and some late."""

    duplicate_rate: float = 0.0  # chance a delivered event is sent again (0-1)
    reorder_window_ms: int = 0  # a first attempt waits a random time up to this

    @property
    def active(self) -> bool:
        return self.duplicate_rate > 0 or self.reorder_window_ms > 0
