"""On a replica set a write is durable once a majority of the members has it: a create
whose majority never comes is a 503 (retry with the same key), never a 201 that a
failover could take back, nor a 500.

With `w: 1` the primary alone acknowledges a write; should it die before a secondary
copied it, the new primary never had it, and an order its client saw a 201 for is gone.
Here both secondaries stop (SIGSTOP) while a create is made: the primary, cut off from
the majority, steps down with the create's last write still waiting for them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from payflow.config import Settings
from tests.replica_set import Member, ReplicaSet
from tests.support import FakeClock, app_client, order_body
from tests.waiting import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.backends("mongod-rs")]
HEADERS = {"Idempotency-Key": "majority"}


@contextmanager
def frozen(members: list[Member]) -> Iterator[None]:
    """The members stopped in their tracks (SIGSTOP): to the primary they are gone."""
    for member in members:
        os.kill(member.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for member in members:
            os.kill(member.process.pid, signal.SIGCONT)


async def test_a_create_whose_majority_never_comes_is_a_503_and_its_retry_creates_it_once(
    mongo_db: Any, db_settings: Settings, mongod_replica_set: ReplicaSet
) -> None:
    primary = mongod_replica_set.wait_for_primary()
    secondaries = [m for m in mongod_replica_set.members if m is not primary]
    clock = FakeClock()
    async with app_client(None, clock=clock, settings=db_settings) as client:
        with frozen(secondaries):
            refused = await client.post("/api/orders", headers=HEADERS, content=order_body())
        assert refused.status_code == 503
        assert refused.json()["type"] == "/problems/service-unavailable"
        assert refused.headers["retry-after"] == "1"

        mongod_replica_set.wait_for_primary()
        # The key may still be held (its release needed the database, too): its lease ends.
        clock.advance(seconds=db_settings.idempotency.lease_seconds)

        async def created() -> httpx.Response | None:
            again = await client.post("/api/orders", headers=HEADERS, content=order_body())
            return again if again.status_code == 201 else None

        await eventually(created, "the retry's 201")
    assert await mongo_db.orders.count_documents({"orderNumber": "ORD-67890"}) == 1
