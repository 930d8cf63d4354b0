"""The payment job, one step at a time: claim → event → signed delivery → finish or retry."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow.lifespan import build_processor
from payflow.worker.processor import Processor
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


def processor_for(client: Client) -> Processor:
    return build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]


async def create(client: Client, number: str, method: str = "pm_card_visa") -> str:
    response = await client.post(
        "/api/orders",
        headers={"Idempotency-Key": number},
        content=order_body(number, paymentMethod=method),
    )
    assert response.status_code == 201
    order_id: str = response.json()["id"]
    return order_id


async def order(client: Client, number: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/orders/{number}")).json()
    return body


async def created_and_processed(client: Client, number: str) -> tuple[str, Any]:
    """An order whose job has run once: (its id, the app's database)."""
    order_id = await create(client, number)
    await processor_for(client).process_order(order_id)
    return order_id, client.app_runtime.store.database  # type: ignore[attr-defined]


async def died_holding_the_job(db: Any, order_id: str, clock: FakeClock) -> None:
    """Put the order's job back as its holder left it when it died: leased, lease now out."""
    await db.orders.update_one(
        {"_id": order_id},
        {"$set": {"processing.state": "processing", "processing.leaseExpiresAt": clock.now}},
    )


async def test_succeeding_card_is_paid_through_a_signed_webhook(client: Client) -> None:
    order_id = await create(client, "A-1")
    await processor_for(client).process_order(order_id)
    assert (await order(client, "A-1"))["status"] == "Paid"
    trail = (await client.get("/api/orders/A-1/events")).json()
    assert [(e["outcome"], e["scheme"]) for e in trail] == [("applied", "payflow")]


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("pm_card_chargeDeclinedProcessingError", "processing_error"),
    ],
)
async def test_declining_cards_fail_with_their_code(client: Client, method: str, code: str) -> None:
    order_id = await create(client, "D-1", method)
    await processor_for(client).process_order(order_id)
    failed = await order(client, "D-1")
    assert failed["status"] == "Failed"
    assert failed["failureCode"] == code


async def test_job_is_processed_once(client: Client) -> None:
    order_id = await create(client, "A-1")
    processor = processor_for(client)
    await processor.process_order(order_id)
    await processor.process_order(order_id)
    trail = (await client.get("/api/orders/A-1/events")).json()
    assert len(trail) == 1


async def test_job_is_not_claimed_before_it_is_due(mock_db: Any, clock: FakeClock) -> None:
    settings = make_settings(processing__delay_seconds=5)
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        order_id = await create(client, "A-1")
        await processor_for(client).process_order(order_id)
        assert (await order(client, "A-1"))["status"] == "Pending"
        clock.advance(seconds=5)
        await processor_for(client).process_order(order_id)
        assert (await order(client, "A-1"))["status"] == "Paid"


async def test_crashed_holder_is_taken_over_after_its_lease_and_paid_once(
    client: Client, clock: FakeClock
) -> None:
    order_id = await create(client, "A-1")
    runtime = client.app_runtime  # type: ignore[attr-defined]
    # A holder claims the job and dies before delivering.
    job = await runtime.store.orders.claim_processing(order_id, "dead", clock.now, clock.now)
    assert job is not None
    clock.advance(seconds=1)
    await processor_for(client).process_order(order_id)
    assert (await order(client, "A-1"))["status"] == "Paid"


async def test_redelivery_after_a_lost_finish_is_a_duplicate_not_a_second_payment(
    client: Client, clock: FakeClock
) -> None:
    order_id, db = await created_and_processed(client, "A-1")
    # Pretend the process died after delivering but before recording it.
    await died_holding_the_job(db, order_id, clock)
    clock.advance(seconds=1)
    await processor_for(client).process_order(order_id)
    trail = (await client.get("/api/orders/A-1/events")).json()
    assert [e["outcome"] for e in trail] == ["applied"]  # the job saw Paid and sent nothing


async def test_a_rerun_sends_nothing_where_a_delivery_was_recorded(
    mock_db: Any, clock: FakeClock
) -> None:
    settings = make_settings(webhooks__target_url="http://127.0.0.1:9/nowhere")
    async with app_client(
        mock_db, clock=clock, settings=settings, deliver_in_process=False
    ) as client:
        order_id = await create(client, "A-1")
        await processor_for(client).process_order(order_id)  # the merchant is down
        # Pretend the process died after recording the delivery but before finishing.
        await died_holding_the_job(mock_db, order_id, clock)
        clock.advance(seconds=1)
        await processor_for(client).process_order(order_id)
        [delivery] = await mock_db.deliveries.find({"orderNumber": "A-1"}).to_list(None)
        assert delivery["attempts"] == 1  # the retry is the delivery job's, not the re-run's
        assert len(delivery["log"]) == 1
        order_doc = await mock_db.orders.find_one({"_id": order_id})
        assert order_doc["processing"]["state"] == "done"
        assert order_doc["processing"]["attempts"] == 2
        metrics = (await client.get("/metrics")).text
        assert 'payflow_webhook_deliveries_total{result="failed"} 1.0' in metrics  # one send


async def test_a_rerun_after_the_webhook_moved_the_order_still_delivers_the_saved_event(
    client: Client, clock: FakeClock
) -> None:
    order_id, db = await created_and_processed(client, "A-1")
    # Pretend the process died after its webhook moved the order to Paid, before the
    # receipt and the delivery were written and before the job was marked done.
    await db.payments.delete_many({})
    await db.deliveries.delete_many({})
    await died_holding_the_job(db, order_id, clock)
    clock.advance(seconds=1)
    await processor_for(client).process_order(order_id)
    trail = (await client.get("/api/orders/A-1/events")).json()
    assert [e["outcome"] for e in trail] == ["applied"]  # the saved event, delivered again
    [delivery] = await db.deliveries.find({"orderNumber": "A-1"}).to_list(None)
    assert delivery["state"] == "succeeded"
    assert (await order(client, "A-1"))["status"] == "Paid"


async def test_failed_delivery_is_rescheduled_with_backoff(mock_db: Any, clock: FakeClock) -> None:
    settings = make_settings(webhooks__target_url="http://127.0.0.1:9/nowhere")
    async with app_client(
        mock_db, clock=clock, settings=settings, deliver_in_process=False
    ) as client:
        order_id = await create(client, "A-1")
        await processor_for(client).process_order(order_id)
        delivery = await mock_db.deliveries.find_one({"orderNumber": "A-1"})
        assert delivery["state"] == "pending"
        assert delivery["attempts"] == 1
        assert delivery["nextAttemptAt"] >= clock.now
        [attempt] = delivery["log"]
        assert attempt["statusCode"] is None
        assert "ConnectError" in attempt["error"]
        assert (await order(client, "A-1"))["status"] == "Pending"
        order_doc = await mock_db.orders.find_one({"_id": order_id})
        assert order_doc["processing"]["state"] == "done"  # the order job emitted its event


async def test_delivery_is_dead_after_max_attempts(mock_db: Any, clock: FakeClock) -> None:
    settings = make_settings(
        webhooks__target_url="http://127.0.0.1:9/nowhere", processing__max_attempts=3
    )
    async with app_client(
        mock_db, clock=clock, settings=settings, deliver_in_process=False
    ) as client:
        order_id = await create(client, "A-1")
        processor = processor_for(client)
        await processor.process_order(order_id)
        delivery_id = (await mock_db.deliveries.find_one({}))["_id"]
        for _ in range(2):
            clock.advance(seconds=settings.processing.retry_max_seconds)
            await processor.deliver_by_id(delivery_id)
        delivery = await mock_db.deliveries.find_one({"_id": delivery_id})
        assert delivery["state"] == "dead"
        assert [a["attempt"] for a in delivery["log"]] == [1, 2, 3]
