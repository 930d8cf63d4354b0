"""Wallet-paid manual-capture orders under concurrency, on the real embedded server.

50 authorizations of 10.00 race for a wallet of 200.00: exactly 20 hold money, 30 fail
`insufficient_funds`. Then a capture and a cancel race for each of the 20: each order
ends Paid or Canceled, never both, and the wallet's books balance with nothing held.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest

from payflow.config import Settings
from payflow.domain.customers import Customer, new_customer_id
from payflow.domain.wallets import opening_balance
from payflow.store.mongo import MongoStore
from tests.integration.test_cancel_refund_races import settled
from tests.support import START, FakeClock, app_client, wallet_books
from tests.waiting import eventually, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ORDERS = 50
WALLET_MINOR = 20_000  # 200.00
ORDER_AMOUNT = 10.0


async def funded_customer(mongo_db: Any, minor: int = WALLET_MINOR) -> str:
    """A customer with `minor` USD, made through the store on the test's own connection
    (the app's client lives on the test client's loop)."""
    customer_id = new_customer_id()
    opening = [opening_balance(customer_id, "USD", minor)]
    await MongoStore(mongo_db).customers.insert(Customer(customer_id, START), opening)
    return customer_id


async def books(mongo_db: Any, customer_id: str) -> tuple[int, int]:
    """(available, reserved): the wallet, which must equal the sum of its ledger."""
    return await wallet_books(MongoStore(mongo_db), customer_id)


async def place(client: Any, number: str, customer: str) -> None:
    body = {
        "orderNumber": number,
        "amount": ORDER_AMOUNT,
        "customer": customer,
        "paymentMethod": "balance",
        "captureMethod": "manual",
    }
    created = await client.post(
        "/api/orders", headers={"Idempotency-Key": number}, content=json.dumps(body)
    )
    assert created.status_code == 201, created.text


async def test_fifty_authorizations_against_two_hundred_then_captures_race_cancels(
    mongo_db: Any, db_settings: Settings
) -> None:
    numbers = [f"W-{n:02d}" for n in range(ORDERS)]
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        customer = await funded_customer(mongo_db)
        async with anyio.create_task_group() as tasks:
            for number in numbers:
                tasks.start_soon(place, client, number, customer)

        async def all_decided() -> list[dict[str, Any]] | None:
            orders = [(await client.get(f"/api/orders/{n}")).json() for n in numbers]
            return None if any(o["status"] == "Pending" for o in orders) else orders

        orders = await eventually(all_decided, "every order authorized or failed", within=120)
        statuses = Counter(o["status"] for o in orders)
        assert statuses == {"Authorized": 20, "Failed": 30}
        assert {o["failureCode"] for o in orders if o["status"] == "Failed"} == {
            "insufficient_funds"
        }
        assert await books(mongo_db, customer) == (0, WALLET_MINOR)

        winners = [o["orderNumber"] for o in orders if o["status"] == "Authorized"]
        answers: dict[tuple[str, str], httpx.Response] = {}

        async def act(number: str, action: str, body: bytes) -> None:
            answers[number, action] = await client.post(
                f"/api/orders/{number}/{action}",
                headers={"Idempotency-Key": f"{action}-{number}"},
                content=body,
            )

        async with anyio.create_task_group() as tasks:
            for i, number in enumerate(winners):
                # Some captures take part of the hold; half the pairs send the cancel first.
                capture_body = b'{"amount":7.25}' if i % 3 == 0 else b""
                pair = [("capture", capture_body), ("cancel", b"")]
                for action, body in pair if i % 2 else reversed(pair):
                    tasks.start_soon(act, number, action, body)

        captured_minor = 0
        for number in winners:
            capture, cancel = answers[number, "capture"], answers[number, "cancel"]
            assert sorted([capture.status_code, cancel.status_code]) == [200, 409], number
            final = (await client.get(f"/api/orders/{number}")).json()
            if capture.status_code == 200:
                assert final["status"] == "Paid"
                assert cancel.json()["type"].endswith("/order-not-cancelable")
                captured_minor += round(final["amountCaptured"] * 100)
            else:
                assert final["status"] == "Canceled"
                assert capture.json()["type"].endswith("/order-not-capturable")
        await settled(mongo_db)
        assert await books(mongo_db, customer) == (WALLET_MINOR - captured_minor, 0)
        # Each order announced once what became of it: a capture or a cancellation.
        found = mongo_db.events.find({"type": {"$in": ["payment.captured", "order.canceled"]}})
        announced = Counter([e["orderNumber"] async for e in found])
        assert announced == dict.fromkeys(winners, 1)


async def test_an_authorization_past_its_hours_expires_and_releases_the_hold(
    mongo_db: Any, db_settings: Settings
) -> None:
    clock = FakeClock()
    async with app_client(None, settings=db_settings, run_worker=True, clock=clock) as client:
        customer = await funded_customer(mongo_db)
        await place(client, "EXP-1", customer)
        await wait_for_status(client, "EXP-1", "Authorized")
        assert await books(mongo_db, customer) == (WALLET_MINOR - 1_000, 1_000)
        clock.advance(hours=db_settings.payments.authorization_hours + 1)
        expired = await wait_for_status(client, "EXP-1", "Canceled")
        assert expired["cancellationReason"] == "expired"
        await settled(mongo_db)
        assert await books(mongo_db, customer) == (WALLET_MINOR, 0)
