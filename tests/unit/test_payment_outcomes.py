"""Simulated outcomes (DESIGN §1.5): test methods and Stripe's card numbers, per-order delay."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow.lifespan import build_processor
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]

MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "processing_error": "An error occurred while processing your card.",
}
DECLINES = [
    ("pm_card_chargeDeclined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error"),
    ("4000000000000002", "generic_decline"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000000069", "expired_card"),
    ("4000000000000119", "processing_error"),
]


async def create(client: Client, number: str, **extra: Any) -> dict[str, Any]:
    body = {"orderNumber": number, "amount": 25, **extra}
    response = await client.post(
        "/api/orders", headers={"Idempotency-Key": number}, content=json.dumps(body).encode()
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def process(client: Client, order_id: str) -> None:
    runtime = client.app_runtime  # type: ignore[attr-defined]
    await build_processor(runtime, client.app_http).process_order(order_id)  # type: ignore[attr-defined]


async def order(client: Client, number: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/api/orders/{number}")).json()
    return found


@pytest.mark.parametrize(("method", "code"), DECLINES, ids=[d[0] for d in DECLINES])
async def test_each_decline_ends_failed_with_its_code_on_the_order_and_the_event(
    client: Client, mock_db: Any, method: str, code: str
) -> None:
    message = MESSAGES[code]
    created = await create(client, "D-1", paymentMethod=method)
    await process(client, created["id"])
    failed = await order(client, "D-1")
    assert (failed["status"], failed["failureCode"], failed["failureMessage"]) == (
        "Failed",
        code,
        message,
    )
    assert failed["paymentMethod"] == method
    event = json.loads((await mock_db.events.find_one({"orderNumber": "D-1"}))["body"])
    assert event["type"] == "payment.failed"
    assert (event["data"]["failureCode"], event["data"]["failureMessage"]) == (code, message)


@pytest.mark.parametrize("method", ["4242424242424242", "5555555555554444", "pm_card_mastercard"])
async def test_succeeding_cards_are_paid(client: Client, method: str) -> None:
    created = await create(client, "S-1", paymentMethod=method)
    await process(client, created["id"])
    paid = await order(client, "S-1")
    assert (paid["status"], paid["failureCode"]) == ("Paid", None)


async def test_an_unknown_card_number_is_a_validation_error(client: Client) -> None:
    response = await client.post(
        "/api/orders",
        headers={"Idempotency-Key": "k"},
        content=order_body(paymentMethod="4000000000000000"),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "paymentMethod"


async def test_processing_delay_override_makes_an_order_due_at_once(
    mock_db: Any, clock: FakeClock
) -> None:
    settings = make_settings(processing__delay_seconds=60)
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        fast = await create(client, "FAST", processingDelayMs=0)
        slow = await create(client, "SLOW")
        await process(client, fast["id"])
        await process(client, slow["id"])
        assert (await order(client, "FAST"))["status"] == "Paid"
        assert (await order(client, "SLOW"))["status"] == "Pending"


async def test_processing_delay_override_can_slow_one_order_down(
    client: Client, clock: FakeClock
) -> None:
    created = await create(client, "LATER", processingDelayMs=1500)
    await process(client, created["id"])
    assert (await order(client, "LATER"))["status"] == "Pending"
    clock.advance(milliseconds=1499)
    await process(client, created["id"])
    assert (await order(client, "LATER"))["status"] == "Pending"
    clock.advance(milliseconds=1)
    await process(client, created["id"])
    assert (await order(client, "LATER"))["status"] == "Paid"


@pytest.mark.parametrize("delay", ["-1", "600001", "1.5", '"10"', "true", "1e3"])
async def test_processing_delay_outside_0_to_600000_ms_is_refused(
    client: Client, mock_db: Any, delay: str
) -> None:
    body = b'{"orderNumber":"A","amount":1,"processingDelayMs":' + delay.encode() + b"}"
    response = await client.post("/api/orders", headers={"Idempotency-Key": "k"}, content=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "processingDelayMs"
    assert await mock_db.orders.count_documents({}) == 0


async def test_processing_delay_is_part_of_the_idempotency_fingerprint(client: Client) -> None:
    await create(client, "A", processingDelayMs=0)
    again = await client.post(
        "/api/orders",
        headers={"Idempotency-Key": "A"},
        content=b'{"orderNumber":"A","amount":25,"processingDelayMs":10}',
    )
    assert again.status_code == 422
