"""The payments phases' pieces: the payment floor pays each seeded order once through its
own signed webhook."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from bench import payment_floor
from litestar.testing import AsyncTestClient

from payflow.config import Settings

pytestmark = pytest.mark.anyio

NOW = dt.datetime(2036, 11, 22, 20, 47, tzinfo=dt.UTC)


def floor_client(mock_db: Any) -> AsyncTestClient[Any]:
    """The floor app on mongomock, sending its webhooks to itself in-process."""
    holder: list[Any] = []

    async def to_the_app(request: httpx.Request) -> httpx.Response:
        return await httpx.ASGITransport(app=holder[0]).handle_async_request(request)

    app = payment_floor.create_app(
        Settings(), database=mock_db, transport=httpx.MockTransport(to_the_app)
    )
    holder.append(app)
    return AsyncTestClient(app)


async def test_the_floor_pays_each_seeded_order_once_through_a_verified_webhook(
    mock_db: Any,
) -> None:
    await mock_db.orders.insert_many(list(payment_floor.pending_orders("t", 5, NOW)))
    async with floor_client(mock_db) as client:
        first = await client.post(
            "/floor/payments/run", json={"prefix": "t", "count": 5, "concurrency": 2}
        )
        again = await client.post("/floor/payments/run", json={"prefix": "t", "count": 5})
    assert (first.json()["paid"], first.json()["failed"]) == (5, [])
    assert again.json()["paid"] == 0  # nothing Pending is left: no second payment
    assert again.json()["failed"][0] == "ord_t_0000000: not a Pending order"
    orders = await mock_db.orders.find({}, {"status": 1, "paidAt": 1}).to_list(None)
    assert {o["status"] for o in orders} == {"Paid"}
    assert all(o["paidAt"] for o in orders)
    assert await mock_db.events.count_documents({}) == 5
    receipts = await mock_db.receipts.find({}, {"outcome": 1}).to_list(None)
    assert [r["outcome"] for r in receipts] == ["applied"] * 5


async def test_the_floor_receiver_refuses_an_unsigned_webhook_and_moves_nothing(
    mock_db: Any,
) -> None:
    await mock_db.orders.insert_many(list(payment_floor.pending_orders("t", 1, NOW)))
    body = b'{"id":"evt_x","data":{"orderId":"ord_t_0000000","currency":"USD","amount":149.99}}'
    async with floor_client(mock_db) as client:
        answer = await client.post(payment_floor.RECEIVE_PATH, content=body)
    assert (answer.status_code, answer.json()) == (401, {"error": "missing-signature"})
    assert (await mock_db.orders.find_one({}))["status"] == "Pending"
