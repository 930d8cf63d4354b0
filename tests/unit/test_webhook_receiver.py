"""POST /api/webhooks/payments: verification first, then the five outcomes (DESIGN §1.3)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow import signing
from tests.support import FakeClock, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
SECRET = "super_secret_change_me"
URL = "/api/webhooks/payments"


def event(
    order_number: str = "ORD-67890",
    event_type: str = "payment.succeeded",
    amount: str = "149.99",
    currency: str = "USD",
    event_id: str | None = "evt_1",
) -> bytes:
    head = f'"id":"{event_id}",' if event_id else ""
    return (
        "{" + head + f'"type":"{event_type}","createdAt":"2036-11-22T20:47:01.123Z",'
        f'"data":{{"orderNumber":"{order_number}","amount":{amount},"currency":"{currency}"}}}}'
    ).encode()


def signed(
    body: bytes,
    clock: FakeClock,
    scheme: signing.Scheme = signing.Scheme.PAYFLOW,
    secret: str = SECRET,
    skew: int = 0,
) -> dict[str, str]:
    timestamp = int(clock.now.timestamp()) + skew
    headers = signing.sign(scheme, body, [secret], timestamp, "msg_1")
    return {**headers, "Content-Type": "application/json"}


async def create_order(client: Client, order_number: str = "ORD-67890") -> None:
    response = await client.post(
        "/api/orders", headers={"Idempotency-Key": order_number}, content=order_body(order_number)
    )
    assert response.status_code == 201


async def post_event(client: Client, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def receipts(client: Client) -> list[dict[str, Any]]:
    runtime = client.app_runtime  # type: ignore[attr-defined]
    found: list[dict[str, Any]] = await runtime.store.database.payments.find().to_list(None)
    return found


@pytest.mark.parametrize("scheme", list(signing.Scheme))
async def test_valid_event_marks_the_order_paid(
    client: Client, clock: FakeClock, scheme: signing.Scheme
) -> None:
    await create_order(client)
    body = event()
    result = await post_event(client, body, signed(body, clock, scheme))
    assert result == {"received": True, "eventId": "evt_1", "outcome": "applied"}
    order = (await client.get("/api/orders/ORD-67890")).json()
    assert order["status"] == "Paid"
    assert order["paidAt"] == "2036-11-22T20:47:01.123Z"


async def test_same_event_twice_is_a_duplicate_with_no_second_transition(
    client: Client, clock: FakeClock
) -> None:
    await create_order(client)
    body = event()
    await post_event(client, body, signed(body, clock))
    clock.advance(seconds=5)
    again = await post_event(client, body, signed(body, clock))
    assert again["outcome"] == "duplicate"
    order = (await client.get("/api/orders/ORD-67890")).json()
    assert order["updatedAt"] == "2036-11-22T20:47:01.123Z"


async def test_event_without_id_is_deduplicated_by_body_hash(
    client: Client, clock: FakeClock
) -> None:
    await create_order(client)
    body = event(event_id=None)
    first = await post_event(client, body, signed(body, clock))
    assert first["outcome"] == "applied"
    assert first["eventId"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "duplicate"


async def test_unknown_order_is_unmatched_but_200(client: Client, clock: FakeClock) -> None:
    body = event("NOBODY")
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "unmatched"


@pytest.mark.parametrize(
    ("amount", "currency"), [("149.98", "USD"), ("149.99", "EUR"), ("1.001", "USD")]
)
async def test_amount_or_currency_mismatch_leaves_the_order_untouched(
    client: Client, clock: FakeClock, amount: str, currency: str
) -> None:
    await create_order(client)
    body = event(amount=amount, currency=currency)
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "mismatch"
    assert (await client.get("/api/orders/ORD-67890")).json()["status"] == "Pending"


async def test_unknown_event_type_is_ignored(client: Client, clock: FakeClock) -> None:
    await create_order(client)
    body = event(event_type="charge.dispute.created")
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "ignored"


async def test_transition_backwards_is_ignored(client: Client, clock: FakeClock) -> None:
    await create_order(client)
    paid = event()
    await post_event(client, paid, signed(paid, clock))
    failed = event(event_type="payment.failed", event_id="evt_2")
    assert (await post_event(client, failed, signed(failed, clock)))["outcome"] == "ignored"
    assert (await client.get("/api/orders/ORD-67890")).json()["status"] == "Paid"


async def test_failed_payment_marks_the_order_failed(client: Client, clock: FakeClock) -> None:
    await create_order(client)
    body = json.dumps(
        {
            "id": "evt_f",
            "type": "payment.failed",
            "data": {
                "orderNumber": "ORD-67890",
                "amount": 149.99,
                "currency": "USD",
                "failureCode": "card_declined",
            },
        }
    ).encode()
    assert (await post_event(client, body, signed(body, clock)))["outcome"] == "applied"
    order = (await client.get("/api/orders/ORD-67890")).json()
    assert order["status"] == "Failed"
    assert order["failureCode"] == "card_declined"


def _bad_signatures(clock: FakeClock) -> dict[str, tuple[bytes, dict[str, str], str]]:
    body = event()
    ts = int(clock.now.timestamp())
    good = signed(body, clock)
    return {
        "no header": (body, {"Content-Type": "application/json"}, "missing-signature"),
        "garbage header": (body, {"X-Signature": "garbage"}, "malformed-signature"),
        "t=abc": (body, {"X-Signature": "t=abc,v1=" + "0" * 64}, "malformed-signature"),
        "10 minutes old": (body, signed(body, clock, skew=-600), "timestamp-out-of-tolerance"),
        "10 minutes ahead": (body, signed(body, clock, skew=600), "timestamp-out-of-tolerance"),
        "other body": (event(amount="1.00"), good, "no-matching-signature"),
        "other secret": (body, signed(body, clock, secret="nope"), "no-matching-signature"),
        "wrong hex": (body, {"X-Signature": f"t={ts},v1={'ab' * 32}"}, "no-matching-signature"),
    }


@pytest.mark.parametrize(
    "case",
    ["no header", "garbage header", "t=abc", "10 minutes old", "10 minutes ahead", "other body",
     "other secret", "wrong hex"],
)  # fmt: skip
async def test_bad_signatures_are_401_and_audited(
    client: Client, clock: FakeClock, case: str
) -> None:
    await create_order(client)
    body, headers, reason = _bad_signatures(clock)[case]
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/invalid-signature")
    assert SECRET not in response.text
    audit = await receipts(client)
    assert [(r["outcome"], r["detail"]) for r in audit] == [("rejected", reason)]
    assert (await client.get("/api/orders/ORD-67890")).json()["status"] == "Pending"


async def test_previous_secret_is_still_accepted(mock_db: Any, clock: FakeClock) -> None:
    from tests.support import app_client, make_settings

    settings = make_settings(webhooks__secret="new-secret", webhooks__previous_secrets=[SECRET])
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        await create_order(client)
        body = event()
        assert (await post_event(client, body, signed(body, clock)))["outcome"] == "applied"


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"type":"payment.succeeded"}', b'{"type":1,"data":{}}']
)
async def test_signed_but_malformed_event_is_400_and_audited(
    client: Client, clock: FakeClock, body: bytes
) -> None:
    response = await client.post(URL, content=body, headers=signed(body, clock))
    assert response.status_code == 400
    assert response.json()["type"].endswith("/validation-error")
    assert [r["outcome"] for r in await receipts(client)] == ["invalid"]


async def test_every_receipt_is_an_audit_event_in_the_order_trail(
    client: Client, clock: FakeClock
) -> None:
    await create_order(client)
    body = event()
    await post_event(client, body, signed(body, clock))
    clock.advance(seconds=1)
    await post_event(client, body, signed(body, clock))
    trail = (await client.get("/api/orders/ORD-67890/events")).json()
    assert [(e["outcome"], e["eventId"], e["type"]) for e in trail] == [
        ("applied", "evt_1", "payment.succeeded"),
        ("duplicate", "evt_1", "payment.succeeded"),
    ]
    assert (await client.get("/api/orders/NOPE/events")).status_code == 404


async def test_webhook_body_over_256_kib_is_413(client: Client, clock: FakeClock) -> None:
    body = b"{" + b" " * (256 * 1024 + 1) + b"}"
    response = await client.post(URL, content=body, headers=signed(body, clock))
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
