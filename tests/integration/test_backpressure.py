"""A full in-process queue never blocks the API: MongoDB keeps the jobs, the poller
feeds them back as room frees up, and every order is still paid."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from payflow.config import Settings
from tests.support import app_client, make_settings, order_body
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

ORDERS = 40


async def test_a_tiny_queue_never_blocks_the_api_and_every_order_ends_paid(
    mongo_db: Any, db_settings: Settings
) -> None:
    settings = make_settings(
        mongo__uri=db_settings.mongo.uri,
        mongo__database=db_settings.mongo.database,
        processing__queue_size=2,
        processing__concurrency=1,
    )
    responses: list[httpx.Response] = []
    async with app_client(None, settings=settings, run_worker=True) as client:
        runtime = client.app_runtime  # type: ignore[attr-defined]

        async def create(n: int) -> None:
            body = order_body(f"BP-{n}", "5")
            headers = {"Idempotency-Key": f"bp-{n}"}
            responses.append(await client.post("/api/orders", headers=headers, content=body))

        async with anyio.create_task_group() as tasks:
            for n in range(ORDERS):
                tasks.start_soon(create, n)
        assert [r.status_code for r in responses] == [201] * ORDERS
        assert runtime.queue.depth <= 2

        async def all_paid() -> bool:
            # The receiver moves each order first and writes its receipt right after.
            applied: int = await mongo_db.payments.count_documents({"outcome": "applied"})
            return applied == ORDERS

        await eventually(all_paid, "every order paid through a queue of two")
    assert await mongo_db.orders.count_documents({"status": "Paid"}) == ORDERS
    assert await mongo_db.payments.count_documents({"outcome": {"$ne": "applied"}}) == 0
