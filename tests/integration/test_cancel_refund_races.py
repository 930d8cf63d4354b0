"""Cancel against the worker, and refunds against each other, on the real embedded server."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest

from payflow.config import Settings
from tests.support import app_client
from tests.waiting import eventually, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DEADLINE_SECONDS = 60  # an upper bound for a condition, not a timing assertion
ORDERS = 60


async def settled(mongo_db: Any) -> None:
    """Wait until every job is done and every delivery has finished."""

    async def idle() -> bool:
        busy = (
            await mongo_db.orders.count_documents({"processing.state": {"$ne": "done"}})
            + await mongo_db.refunds.count_documents({"processing.state": {"$ne": "done"}})
            + await mongo_db.deliveries.count_documents(
                {"state": {"$in": ["pending", "processing"]}}
            )
        )
        return not busy

    await eventually(idle, "every job and delivery done", within=DEADLINE_SECONDS, every=0.05)


async def test_cancel_racing_the_worker_never_ends_paid_after_canceled(
    mongo_db: Any, db_settings: Settings
) -> None:
    answers: dict[str, httpx.Response] = {}
    async with app_client(None, settings=db_settings, run_worker=True) as client:

        async def create_then_cancel(n: int) -> None:
            number = f"RACE-{n}"
            # One order in three is due only in ten minutes (the test clock stands still):
            # its cancel always comes first. The others are due at once, and a few reads
            # before the cancel let it land during the worker's turn or after it. The
            # assertions below hold for every interleaving.
            delay = 600_000 if n % 3 == 0 else 0
            body = {"orderNumber": number, "amount": 12.5, "processingDelayMs": delay}
            created = await client.post(
                "/api/orders", headers={"Idempotency-Key": number}, content=json.dumps(body)
            )
            assert created.status_code == 201
            for _ in range(n % 6):
                await client.get(f"/api/orders/{number}")
            answers[number] = await client.post(
                f"/api/orders/{number}/cancel", headers={"Idempotency-Key": f"c-{number}"}
            )

        async with anyio.create_task_group() as tasks:
            for n in range(ORDERS):
                tasks.start_soon(create_then_cancel, n)
        await settled(mongo_db)

        outcomes: Counter[str] = Counter()
        for number, answer in answers.items():
            order = (await client.get(f"/api/orders/{number}")).json()
            trail = (await client.get(f"/api/orders/{number}/events")).json()
            applied = [e for e in trail if e["outcome"] == "applied"]
            event_types = {
                e["type"] async for e in mongo_db.events.find({"orderNumber": number}, {"type": 1})
            }
            if answer.status_code == 200:
                outcomes["canceled"] += 1
                assert order["status"] == "Canceled", number
                assert order["paidAt"] is None, number
                assert applied == [], number  # no payment ever moved it
                assert "order.canceled" in event_types, number
                if "payment.succeeded" in event_types:
                    # The worker had the order already: its payment arrived and was ignored.
                    outcomes["canceled, payment ignored"] += 1
                    assert any(e["outcome"] == "ignored" for e in trail), number
                else:
                    outcomes["canceled before the worker's turn"] += 1
            else:
                outcomes["too late"] += 1
                assert answer.status_code == 409, answer.text
                assert answer.json()["type"] == "/problems/order-not-cancelable"
                assert order["status"] == "Paid", number
                assert order["canceledAt"] is None, number
                assert "order.canceled" not in event_types, number
        assert outcomes["canceled"] + outcomes["too late"] == ORDERS
        print(f"cancel vs worker over {ORDERS} orders: {dict(outcomes)}")


async def paid_order(client: Any, number: str, amount: str) -> None:
    body = f'{{"orderNumber":"{number}","amount":{amount},"processingDelayMs":0}}'
    created = await client.post("/api/orders", headers={"Idempotency-Key": number}, content=body)
    assert created.status_code == 201
    await wait_for_status(client, number, "Paid", within=DEADLINE_SECONDS)


async def refund_burst(client: Any, number: str, bodies: list[bytes]) -> list[httpx.Response]:
    responses: list[httpx.Response] = []

    async def send(n: int, body: bytes) -> None:
        responses.append(
            await client.post(
                f"/api/orders/{number}/refunds",
                headers={"Idempotency-Key": f"{number}-r{n}"},
                content=body,
            )
        )

    async with anyio.create_task_group() as tasks:
        for n, body in enumerate(bodies):
            tasks.start_soon(send, n, body)
    return responses


TOO_MUCH = {"/problems/refund-exceeds-remaining", "/problems/order-not-refundable"}


async def test_twenty_concurrent_refunds_never_exceed_the_amount(
    mongo_db: Any, db_settings: Settings
) -> None:
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        await paid_order(client, "REF-1", "100.00")
        responses = await refund_burst(client, "REF-1", [b'{"amount":10.00}'] * 20)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 10, 409: 10}
        for response in responses:
            if response.status_code == 409:
                assert response.json()["type"] in TOO_MUCH
        order = (await client.get("/api/orders/REF-1")).json()
        assert (order["status"], order["amountRefunded"]) == ("Refunded", 100)
        refunds = (await client.get("/api/orders/REF-1/refunds")).json()
        assert len(refunds) == 10
        assert sum(r["amount"] for r in refunds) == 100
        await settled(mongo_db)
        assert await mongo_db.events.count_documents({"type": "refund.succeeded"}) == 10


async def test_refunds_of_the_rest_racing_fixed_ones_add_up_to_the_amount_exactly(
    mongo_db: Any, db_settings: Settings
) -> None:
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        await paid_order(client, "REF-2", "100.00")
        bodies = [b'{"amount":7.00}'] * 12 + [b""] * 4  # "the rest" has no amount
        responses = await refund_burst(client, "REF-2", bodies)
        assert all(r.status_code in (201, 409) for r in responses)
        counted = sum(r.json()["amount"] * 100 for r in responses if r.status_code == 201)
        order = await mongo_db.orders.find_one({"orderNumber": "REF-2"})
        assert order["refundedMinor"] == round(counted) == 10_000
        assert order["status"] == "Refunded"
        assert await mongo_db.refunds.count_documents({}) == order["refundCount"]
