"""Deliveries: one event on its way to one endpoint, and the states it goes through.

pending ──claim──▶ processing ──2xx──▶ succeeded
   ▲                   │
   └──failed, attempts left (backoff)   └──failed, none left──▶ dead ──redeliver──▶ pending
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    PROCESSING = "processing"  # leased to a worker
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts; POST /api/deliveries/{id}/redeliver brings it back


# An active delivery will be attempted again by itself; a terminal one only on a redeliver.
ACTIVE_DELIVERY_STATES = frozenset({DeliveryState.PENDING, DeliveryState.PROCESSING})
TERMINAL_DELIVERY_STATES = frozenset({DeliveryState.SUCCEEDED, DeliveryState.DEAD})
