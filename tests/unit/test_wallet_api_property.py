"""Through the API, whatever credits and debits arrive, the wallet is the sum of its
ledger (DESIGN §7): `available` equals the sum of the entries' amounts, is never
negative, and a debit beyond it is refused with `insufficient-balance`, changing nothing."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]

# Cents, signed: credits and debits, debits often larger than the wallet.
moves = st.lists(st.integers(-5_000, 5_000).filter(bool), max_size=8)
openings = st.integers(0, 3_000)
# Hypothesis seeds `random` alike for every example, so keys come from a counter.
KEYS = count()


def cents(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(opening=openings, amounts=moves)
async def test_the_wallet_is_the_sum_of_its_ledger_after_any_credits_and_debits(
    client: Client, opening: int, amounts: list[int]
) -> None:
    headers = {"Content-Type": "application/json"}
    created = await client.post(
        "/api/customers",
        headers={**headers, "Idempotency-Key": f"cus-{next(KEYS)}"},
        content=f'{{"balances":{{"USD":{cents(opening)}}}}}' if opening else b"{}",
    )
    assert created.status_code == 201, created.text
    customer = created.json()["id"]
    path = f"/api/customers/{customer}/balance-transactions"
    expected = opening
    for n, minor in enumerate(amounts):
        response = await client.post(
            path,
            headers={**headers, "Idempotency-Key": f"{customer}-{n}"},
            content=f'{{"amount":{cents(minor)},"currency":"USD"}}',
        )
        if expected + minor < 0:
            assert response.status_code == 409
            assert response.json()["type"] == "/problems/insufficient-balance"
        else:
            assert response.status_code == 201, response.text
            expected += minor
            assert Decimal(str(response.json()["available"])) == Decimal(cents(expected))
    ledger = (await client.get(path, params={"limit": 500})).json()
    total = sum(Decimal(str(entry["amount"])) for entry in ledger)
    balances = (await client.get(f"/api/customers/{customer}")).json()["balances"]
    available = Decimal(str(balances[0]["available"])) if balances else Decimal(0)
    assert total == available == Decimal(cents(expected))
    assert available >= 0
    assert all(Decimal(str(entry["available"])) >= 0 for entry in ledger)
