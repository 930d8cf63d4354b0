"""The whole loop in one process on the real server: order → worker → signed webhook → Paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from payflow.config import Settings
from payflow.store.base import IdempotencyRef
from payflow.store.mongo import MongoStore
from tests.support import FakeClock, app_client, card_order, order_body
from tests.waiting import eventually, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_order_is_paid_by_the_background_worker(mongo_db: Any, db_settings: Settings) -> None:
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        response = await client.post(
            "/api/orders", headers={"Idempotency-Key": "k"}, content=order_body()
        )
        assert response.status_code == 201
        paid = await wait_for_status(client, "ORD-67890", "Paid")
        assert paid["paidAt"] is not None

        async def audit_trail() -> list[dict[str, Any]]:
            trail: list[dict[str, Any]] = (await client.get("/api/orders/ORD-67890/events")).json()
            return trail

        # The receiver moves the order first and writes its receipt right after.
        trail = await eventually(audit_trail, "the receipt in the audit trail")
        assert [e["outcome"] for e in trail] == ["applied"]


async def test_queued_orders_in_the_database_are_picked_up_at_startup(
    mongo_db: Any, db_settings: Settings
) -> None:
    """Nothing lives only in memory: a job written before a crash is found by the poller."""
    clock = FakeClock()
    store = MongoStore(mongo_db)
    await store.ensure_indexes()
    order = card_order("ord_recovered", "REC-1", clock.now - timedelta(minutes=5))
    await store.orders.insert(order, IdempotencyRef("global", "k", "fp"), clock.now)
    async with app_client(None, clock=clock, settings=db_settings, run_worker=True) as client:
        await wait_for_status(client, "REC-1", "Paid")


async def test_a_job_whose_holder_died_is_taken_over_after_the_lease(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock = FakeClock()
    async with app_client(None, clock=clock, settings=db_settings) as client:
        created = await client.post(
            "/api/orders", headers={"Idempotency-Key": "k"}, content=order_body()
        )
        order_id = created.json()["id"]
        store = MongoStore(mongo_db)
        lease_until = clock.now + timedelta(seconds=1)
        assert await store.orders.claim_processing(order_id, "dead", clock.now, lease_until)
        # Another process can't take it while the lease holds...
        assert await store.orders.claim_processing(order_id, "b", clock.now, lease_until) is None
        clock.advance(seconds=1)
        # ...and can once it has expired.
        job = await store.orders.claim_processing(order_id, "b", clock.now, clock.now)
        assert job is not None
        assert job.took_over
