"""The audit trail keeps exactly one `applied` receipt per event, even across a crash
between moving the order and writing the receipt (found by `scripts/chaos`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from litestar.testing import AsyncTestClient

from payflow.domain.orders import OrderStatus
from tests.support import FakeClock
from tests.unit.test_webhook_receiver import create_order, event, post_event, signed

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


async def outcomes(client: Client) -> list[str]:
    trail = (await client.get("/api/orders/ORD-67890/events")).json()
    return [entry["outcome"] for entry in trail]


async def test_a_redelivery_after_a_crash_before_the_receipt_writes_the_applied_receipt(
    client: Client, clock: FakeClock
) -> None:
    await create_order(client)
    # The first delivery moved the order; the process died before writing its receipt.
    store = client.app_runtime.store  # type: ignore[attr-defined]
    moved = await store.orders.apply_payment(
        "ORD-67890", "USD", 14999, OrderStatus.PAID, "evt_1", clock.now, None, None
    )
    assert moved.applied
    assert await outcomes(client) == []

    body = event()
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "applied"
    clock.advance(seconds=1)
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "duplicate"
    assert await outcomes(client) == ["applied", "duplicate"]
    assert (await client.get("/api/orders/ORD-67890")).json()["status"] == "Paid"


async def test_concurrent_deliveries_of_one_event_leave_one_applied_receipt(
    client: Client, clock: FakeClock
) -> None:
    await create_order(client)
    body = event()
    answers: list[str] = []

    async def deliver() -> None:
        answers.append((await post_event(client, body, signed(body, clock)))["outcome"])

    async with anyio.create_task_group() as tasks:
        for _ in range(10):
            tasks.start_soon(deliver)
    assert Counter(answers) == {"applied": 1, "duplicate": 9}
    assert Counter(await outcomes(client)) == {"applied": 1, "duplicate": 9}
