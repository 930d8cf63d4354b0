"""Customers, wallets and their ledger over HTTP (DESIGN §7), on mongomock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.support import FakeClock, app_client, make_settings

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name, "Content-Type": "application/json"}


async def new_customer(client: Client, idem: str = "c-1", **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/customers", headers=key(idem), content=json.dumps(fields))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(client: Client, customer: str, body: bytes, name: str) -> Any:
    return await client.post(
        f"/api/customers/{customer}/balance-transactions", headers=key(name), content=body
    )


async def test_a_customer_is_created_with_its_opening_balances(client: Client) -> None:
    body = (
        b'{"name":"Jenny","email":"j@example.com","metadata":{"crm":"1"},'
        b'"balances":{"usd":100,"JPY":500}}'
    )
    response = await client.post("/api/customers", headers=key("k"), content=body)
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("cus_")
    assert response.headers["location"] == f"/api/customers/{created['id']}"
    assert created["name"] == "Jenny"
    assert created["email"] == "j@example.com"
    assert created["metadata"] == {"crm": "1"}
    assert created["createdAt"] == "2036-11-22T20:47:01.123Z"
    assert b'"balances":[{"currency":"JPY","available":500,"reserved":0},' in response.content
    assert b'{"currency":"USD","available":100.00,"reserved":0.00}]' in response.content
    fetched = await client.get(f"/api/customers/{created['id']}")
    assert fetched.content == response.content


async def test_a_customer_needs_no_body_at_all(client: Client) -> None:
    response = await client.post("/api/customers", headers=key("k"))
    assert response.status_code == 201
    assert response.json()["balances"] == []
    assert response.json()["name"] is None


async def test_a_retry_replays_the_customer_and_credits_once(client: Client) -> None:
    body = b'{"balances":{"USD":10}}'
    first = await client.post("/api/customers", headers=key("k"), content=body)
    again = await client.post("/api/customers", headers=key("k"), content=body)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    listed = await client.get("/api/customers")
    assert len(listed.json()) == 1
    ledger = await client.get(f"/api/customers/{first.json()['id']}/balance-transactions")
    assert len(ledger.json()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"balances":{"XXX":10}}', "balances.XXX"),
        (b'{"balances":{"USD":10.001}}', "balances.USD"),
        (b'{"balances":{"USD":"10"}}', "balances.USD"),
        (b'{"balances":{"USD":0}}', "balances.USD"),
        (b'{"balances":{"USD":-5}}', "balances.USD"),
        (b'{"balances":{"usd":1,"USD":2}}', "balances.USD"),
        (b'{"balances":[]}', "balances"),
        (b'{"name":5}', "name"),
        (b'{"nickname":"x"}', "nickname"),
    ],
)
async def test_a_bad_customer_is_a_validation_error(
    client: Client, body: bytes, field: str
) -> None:
    response = await client.post("/api/customers", headers=key("k"), content=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert field in [e["field"] for e in problem["errors"]] or field in problem["detail"]


async def test_an_unknown_customer_is_not_found(client: Client) -> None:
    for path in (
        "/api/customers/cus_missing",
        "/api/customers/cus_missing/balance-transactions",
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/not-found"
    posted = await move(client, "cus_missing", b'{"amount":1,"currency":"USD"}', "k")
    assert posted.status_code == 404


async def test_credits_and_debits_answer_the_balance_after_them(client: Client) -> None:
    customer = (await new_customer(client, balances={"USD": 100}))["id"]
    credit = await move(
        client, customer, b'{"amount":25,"currency":"usd","description":"top-up"}', "a"
    )
    assert credit.status_code == 201
    assert credit.content.startswith(b'{"id":"cbtx_')
    assert (
        b'"type":"adjustment","amount":25.00,"currency":"USD","orderNumber":null,' in credit.content
    )
    assert b'"available":125.00,"reserved":0.00,' in credit.content
    debit = await move(client, customer, b'{"amount":-125.00,"currency":"USD"}', "b")
    assert debit.status_code == 201
    assert debit.json()["amount"] == -125
    assert b'"available":0.00,' in debit.content
    fetched = (await client.get(f"/api/customers/{customer}")).json()
    assert fetched["balances"] == [{"currency": "USD", "available": 0, "reserved": 0}]


async def test_a_debit_beyond_available_is_insufficient_balance_and_changes_nothing(
    client: Client,
) -> None:
    customer = (await new_customer(client, balances={"USD": 10}))["id"]
    refused = await move(client, customer, b'{"amount":-10.01,"currency":"USD"}', "a")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/insufficient-balance"
    replayed = await move(client, customer, b'{"amount":-10.01,"currency":"USD"}', "a")
    assert replayed.content == refused.content  # a handler's 4xx is recorded and replayed
    unknown_currency = await move(client, customer, b'{"amount":-1,"currency":"EUR"}', "b")
    assert unknown_currency.status_code == 409
    ledger = await client.get(f"/api/customers/{customer}/balance-transactions")
    assert [e["amount"] for e in ledger.json()] == [10]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"amount":0,"currency":"USD"}', "amount"),
        (b'{"amount":-0.0,"currency":"USD"}', "amount"),
        (b'{"amount":"5","currency":"USD"}', "amount"),
        (b'{"amount":1.005,"currency":"USD"}', "amount"),
        (b'{"amount":-1.5,"currency":"JPY"}', "amount"),
        (b'{"amount":100000000,"currency":"USD"}', "amount"),
        (b'{"amount":1,"currency":"XXX"}', "currency"),
        (b'{"amount":1}', "currency"),
        (b'{"currency":"USD"}', "amount"),
        (b'{"amount":1,"currency":"USD","type":"capture"}', "type"),
    ],
)
async def test_a_bad_balance_transaction_is_a_validation_error(
    client: Client, body: bytes, field: str
) -> None:
    customer = (await new_customer(client))["id"]
    response = await move(client, customer, body, "k")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_the_ledger_is_newest_first_and_paged_by_link(client: Client) -> None:
    customer = (await new_customer(client, balances={"USD": 1}))["id"]
    for n in range(2, 6):
        await move(client, customer, f'{{"amount":{n},"currency":"USD"}}'.encode(), f"m{n}")
    path = f"/api/customers/{customer}/balance-transactions"
    first = await client.get(path, params={"limit": 3})
    assert [e["amount"] for e in first.json()] == [5, 4, 3]
    assert [e["available"] for e in first.json()] == [15, 10, 6]
    link = first.headers["link"]
    assert link.startswith(f"<{path}?limit=3&cursor=")
    assert link.endswith('>; rel="next"')
    rest = await client.get(link[1 : link.index(">")])
    assert [e["amount"] for e in rest.json()] == [2, 1]
    assert "link" not in rest.headers
    bad = await client.get(path, params={"cursor": "nonsense"})
    assert bad.status_code == 400


async def test_customers_are_listed_newest_first_with_link_paging(
    client: Client, clock: FakeClock
) -> None:
    ids = []
    for n in range(3):
        ids.append((await new_customer(client, f"c{n}", name=f"n{n}"))["id"])
        clock.advance(seconds=1)
    first = await client.get("/api/customers", params={"limit": 2})
    assert [c["id"] for c in first.json()] == ids[:0:-1]
    link = first.headers["link"]
    rest = await client.get(link[1 : link.index(">")])
    assert [c["id"] for c in rest.json()] == ids[:1]


async def test_a_key_sees_only_its_own_customers(mock_db: Any) -> None:
    settings = make_settings(auth__api_keys=["sk_test_a", "sk_test_b"])
    async with app_client(mock_db, settings=settings) as client:
        a = {"Authorization": "Bearer sk_test_a"}
        b = {"Authorization": "Bearer sk_test_b"}
        created = await client.post(
            "/api/customers", headers={**a, **key("k")}, content=b'{"balances":{"USD":5}}'
        )
        customer = created.json()["id"]
        assert (await client.get(f"/api/customers/{customer}", headers=a)).status_code == 200
        assert (await client.get(f"/api/customers/{customer}", headers=b)).status_code == 404
        assert (await client.get("/api/customers", headers=b)).json() == []
        ledger = f"/api/customers/{customer}/balance-transactions"
        assert (await client.get(ledger, headers=b)).status_code == 404
        credit = await client.post(
            ledger, headers={**b, **key("k2")}, content=b'{"amount":1,"currency":"USD"}'
        )
        assert credit.status_code == 404
