"""Orders paid from a wallet or a saved card, and two-step payments (DESIGN §7), on mongomock.

Authorize → Authorized (by the signed `payment.authorized` webhook) → capture (in full or
in part) or cancel or expiry; each money movement re-runnable, and a capture and a
cancel of one order never both move money.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from payflow.domain.cards import read_card
from payflow.domain.customers import Customer, new_customer_id
from payflow.domain.orders import Funds
from payflow.domain.saved_methods import SavedPaymentMethod, new_payment_method_id
from payflow.domain.wallets import opening_balance
from payflow.lifespan import Runtime, build_processor
from tests.support import START, FakeClock, order_body, wallet_books
from tests.unit.test_cancel import cancel, events, process

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


def runtime_of(client: Client) -> Runtime:
    runtime: Runtime = client.app_runtime  # type: ignore[attr-defined]
    return runtime


async def new_customer(client: Client, usd_minor: int = 20_000) -> str:
    customer_id = new_customer_id()
    opening = [opening_balance(customer_id, "USD", usd_minor)] if usd_minor else []
    await runtime_of(client).store.customers.insert(Customer(customer_id, START), opening)
    return customer_id


async def balance(client: Client, customer_id: str) -> tuple[int, int]:
    """(available, reserved) in minor units, checked against the sum of the ledger."""
    return await wallet_books(runtime_of(client).store, customer_id)


async def create(
    client: Client, number: str, amount: str = "10.00", **extra: str
) -> httpx.Response:
    return await client.post(
        "/api/orders",
        headers={"Idempotency-Key": f"create-{number}"},
        content=order_body(number, amount, **extra),
    )


async def authorized(
    client: Client, customer: str, number: str = "ORD-1", amount: str = "10.00"
) -> str:
    """A wallet-paid manual-capture order, authorized; its id."""
    response = await create(
        client, number, amount, customer=customer, paymentMethod="balance", captureMethod="manual"
    )
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    await process(client, order_id)
    order = (await client.get(f"/api/orders/{number}")).json()
    assert order["status"] == "Authorized"
    return order_id


async def capture(
    client: Client, number: str = "ORD-1", key: str = "capture-1", body: bytes = b""
) -> httpx.Response:
    return await client.post(
        f"/api/orders/{number}/capture", headers={"Idempotency-Key": key}, content=body
    )


async def test_a_new_order_shows_the_new_fields_after_the_old_ones(client: Client) -> None:
    response = await create(client, "ORD-1")
    assert response.status_code == 201
    body = response.json()
    assert list(body)[-5:] == [
        "customer",
        "captureMethod",
        "amountCapturable",
        "amountCaptured",
        "cancellationReason",
    ]
    assert body["captureMethod"] == "automatic"
    assert body["customer"] is None
    assert b'"amountCapturable":0.00,"amountCaptured":0.00' in response.content


async def test_an_automatic_wallet_payment_debits_the_wallet(client: Client) -> None:
    customer = await new_customer(client)
    response = await create(client, "ORD-1", customer=customer, paymentMethod="balance")
    await process(client, response.json()["id"])
    order = (await client.get("/api/orders/ORD-1")).json()
    assert order["status"] == "Paid"
    assert order["amountCaptured"] == 10.0
    assert await balance(client, customer) == (19_000, 0)


async def test_a_wallet_too_small_fails_the_order_with_insufficient_funds(client: Client) -> None:
    customer = await new_customer(client, usd_minor=500)
    for capture_method in ("automatic", "manual"):
        number = f"ORD-{capture_method}"
        response = await create(
            client, number, customer=customer, paymentMethod="balance", captureMethod=capture_method
        )
        await process(client, response.json()["id"])
        order = (await client.get(f"/api/orders/{number}")).json()
        assert order["status"] == "Failed"
        assert order["failureCode"] == "insufficient_funds"
    assert await balance(client, customer) == (500, 0)


async def test_manual_capture_authorizes_then_a_partial_capture_releases_the_rest(
    client: Client, mock_db: Any
) -> None:
    customer = await new_customer(client)
    await authorized(client, customer)
    order = (await client.get("/api/orders/ORD-1")).json()
    assert order["amountCapturable"] == 10.0
    assert order["amountCaptured"] == 0.0
    assert await balance(client, customer) == (19_000, 1_000)
    response = await capture(client, body=b'{"amount":6.50}')
    assert response.status_code == 200, response.text
    captured = response.json()
    assert captured["status"] == "Paid"
    assert captured["amountCaptured"] == 6.5
    assert captured["amountCapturable"] == 0.0
    assert await balance(client, customer) == (19_350, 0)
    await process(client, captured["id"])
    assert await events(mock_db) == ["payment.authorized", "payment.captured"]
    event = json.loads((await mock_db.events.find_one({"type": "payment.captured"}))["body"])
    assert event["data"]["amountCaptured"] == 6.5
    assert await balance(client, customer) == (19_350, 0)  # the job's re-run moved nothing


async def test_a_second_capture_is_refused_and_a_replay_is_not(client: Client) -> None:
    customer = await new_customer(client)
    await authorized(client, customer)
    first = await capture(client)
    assert first.status_code == 200
    replay = await capture(client)
    assert replay.headers["idempotent-replayed"] == "true"
    again = await capture(client, key="capture-2")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/order-not-capturable")
    assert await balance(client, customer) == (19_000, 0)


async def test_a_capture_above_the_capturable_amount_is_a_validation_error(
    client: Client,
) -> None:
    customer = await new_customer(client)
    await authorized(client, customer)
    response = await capture(client, body=b'{"amount":10.01}')
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "amount"
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Authorized"


async def test_a_pending_order_cannot_be_captured(client: Client) -> None:
    await create(client, "ORD-1", captureMethod="manual")
    response = await capture(client)
    assert response.status_code == 409
    assert response.json()["type"].endswith("/order-not-capturable")


async def test_canceling_an_authorization_releases_the_hold(client: Client, mock_db: Any) -> None:
    customer = await new_customer(client)
    order_id = await authorized(client, customer)
    response = await cancel(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Canceled"
    assert body["cancellationReason"] == "requested_by_customer"
    assert await balance(client, customer) == (20_000, 0)
    await process(client, order_id)
    event = json.loads((await mock_db.events.find_one({"type": "order.canceled"}))["body"])
    assert event["data"]["cancellationReason"] == "requested_by_customer"
    assert await balance(client, customer) == (20_000, 0)
    late = await capture(client)
    assert late.status_code == 409


async def test_a_cancel_may_give_stripes_reason(client: Client) -> None:
    customer = await new_customer(client)
    await authorized(client, customer)
    response = await cancel(client, body=b'{"reason":"fraudulent"}')
    assert response.json()["cancellationReason"] == "fraudulent"
    bad = await cancel(client, key="cancel-2", body=b'{"reason":"bored"}')
    assert bad.status_code == 400


async def test_an_authorization_not_captured_in_time_expires(
    client: Client, clock: FakeClock, mock_db: Any
) -> None:
    customer = await new_customer(client)
    order_id = await authorized(client, customer)
    clock.advance(hours=167)
    await process(client, order_id)  # not due yet: nothing happens
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Authorized"
    clock.advance(hours=2)
    due = await runtime_of(client).store.orders.due_for_processing(clock(), 10)
    assert [item for item, _ in due] == [order_id]  # the poller finds it: durable
    await process(client, order_id)
    order = (await client.get("/api/orders/ORD-1")).json()
    assert order["status"] == "Canceled"
    assert order["cancellationReason"] == "expired"
    assert await balance(client, customer) == (20_000, 0)
    assert await events(mock_db) == ["payment.authorized", "order.canceled"]
    assert (await capture(client)).status_code == 409


async def test_a_captured_order_does_not_expire(client: Client, clock: FakeClock) -> None:
    customer = await new_customer(client)
    order_id = await authorized(client, customer)
    await capture(client)
    await process(client, order_id)
    clock.advance(hours=200)
    await process(client, order_id)
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Paid"
    assert await balance(client, customer) == (19_000, 0)


async def test_a_capture_that_died_before_moving_money_is_finished_by_its_job(
    client: Client, clock: FakeClock
) -> None:
    customer = await new_customer(client)
    order_id = await authorized(client, customer)
    # The order update won, then the process died before the wallet moved.
    moved = await runtime_of(client).store.orders.capture("ORD-1", None, 400, clock())
    assert moved is not None
    assert await balance(client, customer) == (19_000, 1_000)
    await process(client, order_id)
    assert await balance(client, customer) == (19_600, 0)
    await process(client, order_id)  # and again: nothing more
    assert await balance(client, customer) == (19_600, 0)


async def test_a_pending_order_moving_wallet_money_cannot_be_canceled(
    client: Client, clock: FakeClock
) -> None:
    customer = await new_customer(client)
    response = await create(client, "ORD-1", customer=customer, paymentMethod="balance")
    order_id = response.json()["id"]
    store = runtime_of(client).store
    assert await store.orders.mark_funds(order_id, None, Funds.MOVING, clock()) is not None
    refused = await cancel(client)
    assert refused.status_code == 409
    await process(client, order_id)  # the job finishes what it claimed
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Paid"
    assert await balance(client, customer) == (19_000, 0)


async def test_a_pending_wallet_order_canceled_first_moves_no_money(client: Client) -> None:
    customer = await new_customer(client)
    response = await create(
        client, "ORD-1", customer=customer, paymentMethod="balance", captureMethod="manual"
    )
    assert (await cancel(client)).status_code == 200
    await process(client, response.json()["id"])
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Canceled"
    assert await balance(client, customer) == (20_000, 0)


async def test_refunding_a_wallet_paid_order_credits_the_wallet(client: Client) -> None:
    customer = await new_customer(client)
    order_id = await authorized(client, customer)
    await capture(client, body=b'{"amount":8.00}')
    await process(client, order_id)
    too_much = await client.post(
        "/api/orders/ORD-1/refunds", headers={"Idempotency-Key": "r0"}, content=b'{"amount":9.00}'
    )
    assert too_much.status_code == 409  # only what was captured can come back
    refunded = await client.post(
        "/api/orders/ORD-1/refunds", headers={"Idempotency-Key": "r1"}, content=b'{"amount":3.00}'
    )
    assert refunded.status_code == 201, refunded.text
    processor = build_processor(runtime_of(client), client.app_http)  # type: ignore[attr-defined]
    await processor.process_refund(refunded.json()["id"])
    assert await balance(client, customer) == (19_500, 0)


async def test_manual_capture_with_cards_follows_the_test_card(client: Client) -> None:
    ok = await create(client, "ORD-ok", captureMethod="manual")
    declined = await create(
        client, "ORD-no", captureMethod="manual", paymentMethod="pm_card_chargeDeclined"
    )
    await process(client, ok.json()["id"])
    await process(client, declined.json()["id"])
    assert (await client.get("/api/orders/ORD-ok")).json()["status"] == "Authorized"
    failed = (await client.get("/api/orders/ORD-no")).json()
    assert (failed["status"], failed["failureCode"]) == ("Failed", "generic_decline")
    assert (await capture(client, "ORD-ok")).json()["status"] == "Paid"


async def save_card(client: Client, customer: str | None, number: str) -> SavedPaymentMethod:
    store = runtime_of(client).store
    card = read_card(number, 12, 2040, START, await store.payment_methods.fingerprint_key())
    method = SavedPaymentMethod(new_payment_method_id(), card, START, customer=customer)
    return await store.payment_methods.insert(method)


async def test_a_saved_card_pays_with_its_test_outcome(client: Client) -> None:
    customer = await new_customer(client, 0)
    good = await save_card(client, customer, "4242424242424242")
    bad = await save_card(client, customer, "4000000000009995")
    for number, method in (("ORD-good", good), ("ORD-bad", bad)):
        response = await create(client, number, customer=customer, paymentMethod=method.id)
        assert response.status_code == 201, response.text
        await process(client, response.json()["id"])
    assert (await client.get("/api/orders/ORD-good")).json()["status"] == "Paid"
    failed = (await client.get("/api/orders/ORD-bad")).json()
    assert failed["failureCode"] == "insufficient_funds"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"paymentMethod": "balance"}, "customer"),
        ({"paymentMethod": "balance", "customer": "cus_000000000000000000000000"}, "customer"),
        ({"paymentMethod": "pm_000000000000000000000000"}, "paymentMethod"),
        ({"paymentMethod": "pm_bogus"}, "paymentMethod"),
        ({"captureMethod": "later"}, "captureMethod"),
    ],
)
async def test_an_unusable_payer_is_a_validation_error_naming_the_field(
    client: Client, extra: dict[str, str], field: str
) -> None:
    response = await create(client, "ORD-1", **extra)
    assert response.status_code == 400
    assert field in json.dumps(response.json())


async def test_a_saved_card_of_another_customer_or_detached_is_refused(
    client: Client, clock: FakeClock
) -> None:
    owner = await new_customer(client, 0)
    other = await new_customer(client, 0)
    method = await save_card(client, owner, "4242424242424242")
    response = await create(client, "ORD-1", customer=other, paymentMethod=method.id)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "paymentMethod"
    await runtime_of(client).store.payment_methods.detach(method.id, clock() + timedelta(1))
    detached = await create(client, "ORD-2", customer=owner, paymentMethod=method.id)
    assert detached.status_code == 400
    assert "detached" in detached.json()["errors"][0]["message"]
