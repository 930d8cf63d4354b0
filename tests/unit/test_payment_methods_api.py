"""Saved card payment methods over HTTP (DESIGN §7), on mongomock: checking a card,
attach, detach for good, and duplicate detection by fingerprint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.support import app_client, make_settings

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
VISA = "4242424242424242"


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name, "Content-Type": "application/json"}


def card_body(number: str = VISA, **fields: Any) -> bytes:
    card = {"number": number, "expMonth": 12, "expYear": 2040, "cvc": "123"}
    card.update(fields.pop("card", {}))
    return json.dumps({"type": "card", "card": card, **fields}).encode()


async def new_customer(client: Client, idem: str) -> str:
    response = await client.post("/api/customers", headers=key(idem))
    assert response.status_code == 201
    return str(response.json()["id"])


async def save(client: Client, idem: str, body: bytes) -> Any:
    return await client.post("/api/payment-methods", headers=key(idem), content=body)


async def attach(client: Client, method: str, customer: str, idem: str) -> Any:
    return await client.post(
        f"/api/payment-methods/{method}/attach",
        headers=key(idem),
        content=json.dumps({"customer": customer}),
    )


async def test_a_saved_card_keeps_brand_last4_expiry_and_fingerprint(client: Client) -> None:
    customer = await new_customer(client, "c")
    response = await save(
        client,
        "k",
        card_body("4242 4242 4242 4242", customer=customer, billingDetails={"name": "Jenny"}),
    )
    assert response.status_code == 201, response.text
    method = response.json()
    assert method["id"].startswith("pm_")
    assert response.headers["location"] == f"/api/payment-methods/{method['id']}"
    assert method["type"] == "card"
    card = method["card"]
    assert {k: card[k] for k in ("brand", "last4", "expMonth", "expYear", "funding")} == {
        "brand": "visa",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2040,
        "funding": "credit",
    }
    assert len(card["fingerprint"]) == 16
    assert set(card) == {"brand", "last4", "expMonth", "expYear", "funding", "fingerprint"}
    assert method["customer"] == customer
    assert method["billingDetails"] == {
        "address": None,
        "email": None,
        "name": "Jenny",
        "phone": None,
    }
    fetched = await client.get(f"/api/payment-methods/{method['id']}")
    assert fetched.content == response.content
    listed = await client.get(f"/api/customers/{customer}/payment-methods")
    assert listed.json() == [method]


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"number": "4242424242424241"}, "card.number"),  # Luhn
        ({"number": "42424242424"}, "card.number"),  # 11 digits
        ({"number": "42424242424242424242"}, "card.number"),  # 20 digits
        ({"number": "4242x4242x4242x4242"}, "card.number"),
        ({"number": 4242424242424242}, "card.number"),
        ({"expMonth": 13}, "card.expMonth"),
        ({"expMonth": 10, "expYear": 2036}, "card.expYear"),  # the clock is 2036-11
        ({"cvc": "12a4"}, "card.cvc"),
        ({"pin": "1234"}, "card"),
    ],
)
async def test_a_bad_card_is_a_validation_error_that_never_echoes_the_number(
    client: Client, card: dict[str, Any], field: str
) -> None:
    response = await save(client, "k", card_body(card=card))
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert problem["errors"][0]["field"].startswith(field)
    for value in card.values():
        if len(str(value)) >= 11:
            assert str(value) not in response.text
    assert VISA not in response.text
    assert "4242424242" not in response.text


async def test_a_card_for_a_missing_customer_is_not_found(client: Client) -> None:
    response = await save(client, "k", card_body(customer="cus_missing"))
    assert response.status_code == 404


async def test_a_card_this_month_has_not_expired(client: Client) -> None:
    response = await save(client, "k", card_body(card={"expMonth": 11, "expYear": 2036}))
    assert response.status_code == 201


async def test_the_same_card_twice_for_one_customer_is_a_duplicate_naming_the_first(
    client: Client,
) -> None:
    customer = await new_customer(client, "c")
    first = (await save(client, "a", card_body(customer=customer))).json()
    again = await save(client, "b", card_body("4242-4242-4242-4242", customer=customer))
    assert again.status_code == 409
    problem = again.json()
    assert problem["type"] == "/problems/payment-method-duplicate"
    assert problem["existingPaymentMethod"] == first["id"]
    loose = (await save(client, "loose", card_body(card={"expYear": 2041}))).json()
    attached = await attach(client, loose["id"], customer, "d")
    assert attached.status_code == 409
    assert attached.json()["existingPaymentMethod"] == first["id"]
    assert loose["card"]["fingerprint"] == first["card"]["fingerprint"]


async def test_the_same_card_for_another_customer_is_allowed_with_the_same_fingerprint(
    client: Client,
) -> None:
    jenny, max_ = await new_customer(client, "c1"), await new_customer(client, "c2")
    first = await save(client, "a", card_body(customer=jenny))
    second = await save(client, "b", card_body(customer=max_))
    assert second.status_code == 201
    assert second.json()["card"]["fingerprint"] == first.json()["card"]["fingerprint"]
    other = await save(client, "other", card_body("5555555555554444", customer=jenny))
    assert other.json()["card"]["fingerprint"] != first.json()["card"]["fingerprint"]
    assert other.json()["card"]["brand"] == "mastercard"


async def test_attach_then_detach_for_good(client: Client) -> None:
    customer = await new_customer(client, "c")
    method = (await save(client, "a", card_body())).json()["id"]
    attached = await attach(client, method, customer, "b")
    assert attached.status_code == 200
    assert attached.json()["customer"] == customer
    again = await attach(client, method, customer, "b2")
    assert again.status_code == 200  # attached to that customer already: nothing changes
    detached = await client.post(f"/api/payment-methods/{method}/detach", headers=key("d"))
    assert detached.status_code == 200
    assert detached.json()["customer"] is None
    assert (await client.get(f"/api/customers/{customer}/payment-methods")).json() == []
    for idem, request in (("e", "attach"), ("f", "detach")):
        if request == "attach":
            refused = await attach(client, method, customer, idem)
        else:
            refused = await client.post(
                f"/api/payment-methods/{method}/detach", headers=key(idem), content=b"{}"
            )
        assert refused.status_code == 409
        assert refused.json()["type"] == "/problems/payment-method-detached"
    # The same card may be saved again, as a new method.
    saved_again = await save(client, "g", card_body(customer=customer))
    assert saved_again.status_code == 201


async def test_a_method_attached_to_one_customer_cannot_be_attached_to_another(
    client: Client,
) -> None:
    jenny, max_ = await new_customer(client, "c1"), await new_customer(client, "c2")
    method = (await save(client, "a", card_body(customer=jenny))).json()["id"]
    refused = await attach(client, method, max_, "b")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/payment-method-attached"


async def test_unknown_methods_and_customers_are_not_found(client: Client) -> None:
    customer = await new_customer(client, "c")
    method = (await save(client, "a", card_body())).json()["id"]
    assert (await client.get("/api/payment-methods/pm_missing")).status_code == 404
    assert (await attach(client, "pm_missing", customer, "b")).status_code == 404
    assert (await attach(client, method, "cus_missing", "c")).status_code == 404
    missing = await client.post("/api/payment-methods/pm_missing/detach", headers=key("d"))
    assert missing.status_code == 404
    assert (await client.get("/api/customers/cus_missing/payment-methods")).status_code == 404


async def test_a_retry_replays_the_saved_card_and_a_changed_number_is_another_request(
    client: Client,
) -> None:
    first = await save(client, "k", card_body())
    again = await save(client, "k", card_body())
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    changed = await save(client, "k", card_body("5555555555554444"))
    assert changed.status_code == 422


async def test_a_key_sees_only_its_own_payment_methods(mock_db: Any) -> None:
    settings = make_settings(auth__api_keys=["sk_test_a", "sk_test_b"])
    async with app_client(mock_db, settings=settings) as client:
        a = {"Authorization": "Bearer sk_test_a"}
        b = {"Authorization": "Bearer sk_test_b"}
        method = (
            await client.post(
                "/api/payment-methods", headers={**a, **key("k")}, content=card_body()
            )
        ).json()["id"]
        assert (await client.get(f"/api/payment-methods/{method}", headers=a)).status_code == 200
        assert (await client.get(f"/api/payment-methods/{method}", headers=b)).status_code == 404
        customer_b = (await client.post("/api/customers", headers={**b, **key("c")})).json()["id"]
        stolen = await client.post(
            f"/api/payment-methods/{method}/attach",
            headers={**b, **key("d")},
            content=json.dumps({"customer": customer_b}),
        )
        assert stolen.status_code == 404
