"""POST /api/orders/{orderNumber}/cancel: Pending → Canceled, once, and never paid after."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from payflow import signing
from payflow.lifespan import build_processor
from tests.support import FakeClock, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


async def create(client: Client, number: str = "ORD-1") -> str:
    response = await client.post(
        "/api/orders", headers={"Idempotency-Key": f"create-{number}"}, content=order_body(number)
    )
    assert response.status_code == 201
    order_id: str = response.json()["id"]
    return order_id


async def cancel(
    client: Client, number: str = "ORD-1", key: str = "cancel-1", body: bytes = b""
) -> httpx.Response:
    return await client.post(
        f"/api/orders/{number}/cancel", headers={"Idempotency-Key": key}, content=body
    )


async def process(client: Client, order_id: str) -> None:
    runtime = client.app_runtime  # type: ignore[attr-defined]
    await build_processor(runtime, client.app_http).process_order(order_id)  # type: ignore[attr-defined]


async def events(mock_db: Any, number: str = "ORD-1") -> list[str]:
    return [e["type"] for e in await mock_db.events.find({"orderNumber": number}).to_list(None)]


async def test_a_pending_order_is_canceled(client: Client, clock: FakeClock) -> None:
    await create(client)
    clock.advance(seconds=1)
    response = await cancel(client)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "Canceled"
    assert body["canceledAt"] == body["updatedAt"] == "2036-11-22T20:47:02.123Z"
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Canceled"


async def test_the_order_job_then_emits_order_canceled_and_no_payment(
    client: Client, mock_db: Any
) -> None:
    order_id = await create(client)
    await cancel(client)
    await process(client, order_id)
    assert await events(mock_db) == ["order.canceled"]
    event = json.loads((await mock_db.events.find_one({"type": "order.canceled"}))["body"])
    assert event["data"]["status"] == "Canceled"
    assert event["data"]["orderNumber"] == "ORD-1"
    delivery = await mock_db.deliveries.find_one({"eventId": event["id"]})
    assert delivery["state"] == "succeeded"  # delivered like every other event
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Canceled"


async def test_a_job_claimed_before_the_cancel_emits_a_payment_the_receiver_ignores(
    client: Client, mock_db: Any, clock: FakeClock
) -> None:
    order_id = await create(client)
    runtime = client.app_runtime  # type: ignore[attr-defined]
    # A worker has claimed the Pending order and is about to emit its payment...
    job = await runtime.store.orders.claim_processing(
        order_id, "w_other", clock.now, clock.now + timedelta(seconds=30)
    )
    assert job is not None
    # ...when the cancel wins the order.
    assert (await cancel(client)).status_code == 200
    # The payment event that was on its way arrives: the order stays Canceled.
    body = json.dumps(
        {
            "id": "evt_late",
            "type": "payment.succeeded",
            "data": {"orderNumber": "ORD-1", "amount": 149.99, "currency": "USD"},
        }
    ).encode()
    headers = signing.sign(
        signing.Scheme.PAYFLOW, body, ["super_secret_change_me"], int(clock.now.timestamp())
    )
    ack = await client.post("/api/webhooks/payments", content=body, headers=headers)
    assert ack.json()["outcome"] == "ignored"
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Canceled"
    # And the cancel re-queued the order's job, which now announces the cancellation.
    await process(client, order_id)
    assert await events(mock_db) == ["order.canceled"]


@pytest.mark.parametrize("decided", ["Paid", "Failed", "Canceled"])
async def test_an_order_that_is_not_pending_is_409(
    client: Client, mock_db: Any, decided: str
) -> None:
    await create(client)
    await mock_db.orders.update_one({"orderNumber": "ORD-1"}, {"$set": {"status": decided}})
    response = await cancel(client)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/order-not-cancelable"
    assert decided in problem["detail"]
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == decided


async def test_an_unknown_order_is_404(client: Client) -> None:
    response = await cancel(client, "NOPE")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_a_retry_with_the_same_key_replays_the_first_answer(client: Client) -> None:
    await create(client)
    first = await cancel(client)
    again = await cancel(client)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other_key = await cancel(client, key="cancel-2")
    assert other_key.status_code == 409


async def test_an_empty_object_is_the_same_request_as_no_body(client: Client) -> None:
    await create(client)
    first = await cancel(client)
    again = await cancel(client, body=b"{}")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


@pytest.mark.parametrize("body", [b'{"reason":"x"}', b"[]", b"nope"])
async def test_a_body_with_anything_in_it_is_400_and_cancels_nothing(
    client: Client, body: bytes
) -> None:
    await create(client)
    response = await cancel(client, body=body)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/validation-error"
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Pending"


async def test_the_key_is_required(client: Client) -> None:
    await create(client)
    response = await client.post("/api/orders/ORD-1/cancel")
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/idempotency-key-missing"


async def test_static_segments_match_case_insensitively(client: Client) -> None:
    await create(client)
    response = await client.post("/API/Orders/ORD-1/Cancel", headers={"Idempotency-Key": "k"})
    assert response.status_code == 200
