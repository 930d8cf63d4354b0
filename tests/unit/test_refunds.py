"""Refunds of a Paid order: whole or in parts, never more than the amount, announced once."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from mongomock_motor import AsyncMongoMockClient

from payflow.domain.money import to_minor
from payflow.domain.orders import Order, OrderStatus
from payflow.errors import OrderNotRefundable, RefundExceedsRemaining
from payflow.lifespan import build_processor
from payflow.refunding import count_refund
from payflow.store.mongo import MongoStore
from tests.support import START, FakeClock

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


async def paid_order(
    client: Client, number: str = "ORD-1", amount: str = "100.00", currency: str = "USD"
) -> str:
    body = f'{{"orderNumber":"{number}","amount":{amount},"currency":"{currency}"}}'.encode()
    created = await client.post("/api/orders", headers={"Idempotency-Key": number}, content=body)
    assert created.status_code == 201
    order_id: str = created.json()["id"]
    runtime = client.app_runtime  # type: ignore[attr-defined]
    await build_processor(runtime, client.app_http).process_order(order_id)  # type: ignore[attr-defined]
    assert (await order(client, number))["status"] == "Paid"
    return order_id


async def refund(
    client: Client, body: bytes = b"", key: str = "r-1", number: str = "ORD-1"
) -> httpx.Response:
    return await client.post(
        f"/api/orders/{number}/refunds", headers={"Idempotency-Key": key}, content=body
    )


async def order(client: Client, number: str = "ORD-1") -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/api/orders/{number}")).json()
    return found


async def test_a_partial_refund_leaves_the_order_partially_refunded(client: Client) -> None:
    order_id = await paid_order(client)
    response = await refund(client, b'{"amount":40,"reason":"requested_by_customer"}')
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("re_")
    assert response.headers["location"] == f"/api/orders/ORD-1/refunds/{created['id']}"
    assert b'"amount":40.00,' in response.content
    assert created["orderId"] == order_id
    assert (created["status"], created["reason"]) == ("succeeded", "requested_by_customer")
    after = await client.get("/api/orders/ORD-1")
    assert after.json()["status"] == "PartiallyRefunded"
    assert b'"amountRefunded":40.00,' in after.content


async def test_no_amount_refunds_all_that_is_left(client: Client) -> None:
    await paid_order(client)
    await refund(client, b'{"amount":30.5}', key="r-1")
    rest = await refund(client, key="r-2")
    assert rest.status_code == 201
    assert rest.json()["amount"] == 69.5
    final = await order(client)
    assert (final["status"], final["amountRefunded"]) == ("Refunded", 100)


async def test_refunding_exactly_the_rest_makes_it_refunded(client: Client) -> None:
    await paid_order(client)
    await refund(client, b'{"amount":60}', key="r-1")
    last = await refund(client, b'{"amount":40.00}', key="r-2")
    assert last.status_code == 201
    assert (await order(client))["status"] == "Refunded"


async def test_more_than_is_left_is_409_and_changes_nothing(client: Client) -> None:
    await paid_order(client)
    await refund(client, b'{"amount":60}', key="r-1")
    response = await refund(client, b'{"amount":40.01}', key="r-2")
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/refund-exceeds-remaining"
    assert "40.00 USD left" in problem["detail"]
    assert (await order(client))["amountRefunded"] == 60


async def test_a_fully_refunded_order_is_not_refundable(client: Client) -> None:
    await paid_order(client)
    await refund(client, key="r-1")
    response = await refund(client, key="r-2")
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/order-not-refundable"
    assert "fully refunded" in response.json()["detail"]


@pytest.mark.parametrize("status", ["Pending", "Failed", "Canceled"])
async def test_only_paid_orders_can_be_refunded(client: Client, mock_db: Any, status: str) -> None:
    await paid_order(client)
    await mock_db.orders.update_one({"orderNumber": "ORD-1"}, {"$set": {"status": status}})
    response = await refund(client)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/order-not-refundable"
    assert await mock_db.refunds.count_documents({}) == 0


async def test_an_unknown_order_is_404(client: Client) -> None:
    response = await refund(client, number="NOPE")
    assert response.status_code == 404
    assert (await client.get("/api/orders/NOPE/refunds")).status_code == 404


@pytest.mark.parametrize(
    ("currency", "amount", "refunded"),
    [("JPY", "1500", b"700"), ("KWD", "1.234", b"0.001"), ("USD", "1", b"0.01")],
)
async def test_amounts_are_exact_in_the_orders_currency(
    client: Client, currency: str, amount: str, refunded: bytes
) -> None:
    await paid_order(client, amount=amount, currency=currency)
    response = await refund(client, b'{"amount":' + refunded + b"}")
    assert response.status_code == 201
    assert b'"amount":' + refunded + b"," in response.content


BAD_BODIES = {
    "string amount": b'{"amount":"10"}',
    "null amount": b'{"amount":null}',
    "zero": b'{"amount":0}',
    "negative": b'{"amount":-5}',
    "three decimals": b'{"amount":1.001}',
    "over max": b'{"amount":100000000}',
    "bool": b'{"amount":true}',
    "unknown reason": b'{"reason":"changed_my_mind"}',
    "unknown field": b'{"amount":1,"charge":"ch_1"}',
    "array": b"[1]",
    "not json": b"amount=1",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_bad_bodies_are_400_and_not_recorded(
    client: Client, mock_db: Any, body: bytes
) -> None:
    await paid_order(client)
    response = await refund(client, body, key="r-bad")
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/validation-error"
    assert await mock_db.refunds.count_documents({}) == 0
    corrected = await refund(client, b'{"amount":1}', key="r-bad")  # the key was not used up
    assert corrected.status_code == 201


async def test_too_many_digits_for_yen_names_the_field(client: Client) -> None:
    await paid_order(client, amount="1500", currency="JPY")
    response = await refund(client, b'{"amount":1.5}')
    assert response.json()["errors"] == [
        {"field": "amount", "message": "JPY amounts have at most 0 decimal places"}
    ]


async def test_a_retry_replays_and_another_body_with_the_key_is_422(client: Client) -> None:
    await paid_order(client)
    first = await refund(client, b'{"amount":10}')
    again = await refund(client, b'{ "amount" : 10.0 }')
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert (await order(client))["amountRefunded"] == 10
    reused = await refund(client, b'{"amount":11}')
    assert reused.status_code == 422


async def test_refunds_are_listed_oldest_first_and_fetched_one_by_one(
    client: Client, clock: FakeClock
) -> None:
    await paid_order(client)
    ids = []
    for n, amount in enumerate([b"10", b"20", b"30"]):
        clock.advance(seconds=1)
        ids.append((await refund(client, b'{"amount":' + amount + b"}", key=f"r-{n}")).json()["id"])
    listed = await client.get("/api/orders/ORD-1/refunds")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == ids
    one = await client.get(f"/api/orders/ORD-1/refunds/{ids[1]}")
    assert one.json()["amount"] == 20
    assert (await client.get("/api/orders/ORD-1/refunds/re_nope")).status_code == 404


async def test_a_refund_is_only_found_under_its_own_order(client: Client) -> None:
    await paid_order(client, "ORD-1")
    await paid_order(client, "ORD-2")
    refund_id = (await refund(client, b'{"amount":1}')).json()["id"]
    assert (await client.get(f"/api/orders/ORD-2/refunds/{refund_id}")).status_code == 404


async def test_each_refund_is_announced_by_a_refund_succeeded_event(
    client: Client, mock_db: Any
) -> None:
    await paid_order(client)
    created = (await refund(client, b'{"amount":25}')).json()
    runtime = client.app_runtime  # type: ignore[attr-defined]
    processor = build_processor(runtime, client.app_http)  # type: ignore[attr-defined]
    await processor.process_refund(created["id"])
    await processor.process_refund(created["id"])  # a second run finds the job done
    stored = await mock_db.events.find({"type": "refund.succeeded"}).to_list(None)
    assert len(stored) == 1
    event = json.loads(stored[0]["body"])
    assert event["data"]["refundId"] == created["id"]
    assert event["data"]["amount"] == 25
    assert await mock_db.deliveries.count_documents({"eventId": event["id"]}) == 1


async def test_a_refund_job_whose_holder_died_is_taken_over_after_its_lease(
    client: Client, mock_db: Any, clock: FakeClock
) -> None:
    await paid_order(client)
    refund_id = (await refund(client, b'{"amount":5}')).json()["id"]
    runtime = client.app_runtime  # type: ignore[attr-defined]
    lease_until = clock.now + timedelta(seconds=30)
    assert await runtime.store.refunds.claim_processing(refund_id, "w_dead", clock.now, lease_until)
    processor = build_processor(runtime, client.app_http)  # type: ignore[attr-defined]
    await processor.process_refund(refund_id)  # the lease still holds: nothing happens
    assert await mock_db.events.count_documents({"type": "refund.succeeded"}) == 0
    clock.advance(seconds=30)
    await processor.process_refund(refund_id)
    assert await mock_db.events.count_documents({"type": "refund.succeeded"}) == 1
    job = (await mock_db.refunds.find_one({"_id": refund_id}))["processing"]
    assert (job["state"], job["attempts"]) == ("done", 2)


async def test_a_retry_after_a_crash_finishes_the_refund_without_counting_it_twice(
    client: Client, mock_db: Any, clock: FakeClock
) -> None:
    await paid_order(client)
    first = await refund(client, b'{"amount":40}', key="k")
    # Make it look as if the holder died after counting the refund on the order, before
    # writing the refund document and its answer.
    await mock_db.refunds.delete_many({})
    await mock_db.idempotency.update_one(
        {"key": "k"}, {"$set": {"state": "in_progress"}, "$unset": {"response": ""}}
    )
    clock.advance(seconds=31)  # past the key's lease
    retry = await refund(client, b'{"amount":40}', key="k")
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert (await order(client))["amountRefunded"] == 40
    assert await mock_db.refunds.count_documents({}) == 1


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(1, 10_000),
    asks=st.lists(st.one_of(st.none(), st.integers(1, 12_000)), max_size=10),
)
def test_refunds_never_add_up_past_the_amount(total: int, asks: list[int | None]) -> None:
    """Whatever refunds are asked for, in whatever order, the order's books balance."""

    async def scenario() -> None:
        store = MongoStore(AsyncMongoMockClient(tz_aware=True)["payflow"])
        amount = Decimal(total).scaleb(-2)
        order = Order(
            id="ord_1",
            order_number="ORD-1",
            amount=amount,
            currency="USD",
            status=OrderStatus.PAID,
            payment_method="pm_card_visa",
            created_at=START,
            updated_at=START,
        )
        await store.orders.insert(order, None, START)
        counted = 0
        for n, ask in enumerate(asks):
            current = await store.orders.get("ORD-1")
            assert current is not None
            try:
                after, minor = await count_refund(
                    store.orders, current, f"re_{n}", ask, START + timedelta(seconds=n)
                )
            except (OrderNotRefundable, RefundExceedsRemaining):
                continue
            assert ask is None or minor == ask
            counted += minor
            assert to_minor(after.amount_refunded, "USD") == counted
        final = await store.orders.get("ORD-1")
        assert final is not None
        assert to_minor(final.amount_refunded, "USD") == counted <= total
        expected = {0: OrderStatus.PAID, total: OrderStatus.REFUNDED}.get(
            counted, OrderStatus.PARTIALLY_REFUNDED
        )
        assert final.status is expected

    anyio.run(scenario)
