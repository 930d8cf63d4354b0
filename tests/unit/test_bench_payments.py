"""The payments phases' pieces: the payment floor pays each seeded order once through its
own signed webhook, a clone of payflow's documents is the same bytes with fresh names, and
a round's doubtful figures reach the report's notes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import bson
import httpx
import pytest
from bench import payment_floor, payments, scale
from bson import Decimal128
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


def template() -> scale.Template:
    number, order, event = "abT0000001", "ord_" + "1" * 24, "evt_" + "2" * 24
    delivery, receipt = "dlv_" + "3" * 24, "rcpt_" + "4" * 24
    body = f'{{"id":"{event}","data":{{"orderId":"{order}","orderNumber":"{number}"}}}}'
    docs: dict[str, dict[str, Any]] = {
        "orders": {
            "_id": order,
            "orderNumber": number,
            "amount": Decimal128("149.99"),
            "appliedEventKey": event,
            "idempotency": {"key": number, "response": {"body": body.encode()}},
        },
        "idempotency": {"_id": f"global {number}", "key": number, "resultOrder": number},
        "events": {"_id": event, "orderNumber": number, "body": body.encode()},
        "deliveries": {"_id": delivery, "eventId": event, "body": body.encode()},
        "payments": {"_id": receipt, "eventKey": event, "orderId": order},
    }
    names = tuple(n.encode() for n in (number, order, event, delivery, receipt))
    return scale.Template({c: bson.encode(d) for c, d in docs.items()}, names)


def test_a_clone_keeps_the_documents_bytes_for_bytes_but_every_name_is_fresh() -> None:
    original = template()
    first, second = scale.clone(original, "ab", 7), scale.clone(original, "ab", 8)
    for collection, blob in original.blobs.items():
        assert len(first[collection].raw) == len(blob)  # same size, still valid BSON
        assert not any(name in first[collection].raw for name in original.names)
    order = bson.decode(first["orders"].raw)
    assert order["orderNumber"] == "abS0000007" == order["idempotency"]["key"]
    assert order["_id"].startswith("ord_")
    assert len(order["_id"]) == 28
    event = bson.decode(first["events"].raw)
    receipt = bson.decode(first["payments"].raw)
    assert order["appliedEventKey"] == event["_id"] == receipt["eventKey"]
    assert f'"orderId":"{order["_id"]}"'.encode() in event["body"]
    assert bson.decode(first["idempotency"].raw)["_id"] == "global abS0000007"
    assert bson.decode(second["orders"].raw)["_id"] != order["_id"]


def test_a_round_whose_payments_overlapped_creation_or_ran_out_of_time_says_so() -> None:
    clean = {"stored": 1000, "created": 400, "paid": 400, "due_after_last_made_s": 1.3}
    assert payments._doubts(clean) == []
    late = {**clean, "paid": 350, "due_after_last_made_s": -0.2}
    assert payments._doubts(late) == [
        "payments at 1,000 stored: 350 of 400 Paid within the time left; paid/s counts those",
        "payments at 1,000 stored: orders fell due before the last was made, so their "
        "creation overlapped the payments measured",
    ]
