"""Races through the API on the real embedded server (DESIGN §7): many debits of one
wallet at once never overdraw it, and of many concurrent saves or attaches of one card
to one customer exactly one wins, the others naming it.

Requests go straight over ASGI on the app's own loop (`SyncClient.concurrently`), so
they really overlap; the test client would hand them to the app one after another."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from payflow.config import Settings
from tests.adversarial.harness import running_app
from tests.support import make_settings

pytestmark = pytest.mark.integration

BURST = 30
CARD = {"number": "4242 4242 4242 4242", "expMonth": 12, "expYear": 2040}


@pytest.fixture
def db_settings(embedded_uri: str) -> Settings:
    """The app connects to a database of its own on the session's server (these tests
    are synchronous: the app runs on its own loop, which the burst must share)."""
    return make_settings(mongo__uri=embedded_uri, mongo__database=f"money_{uuid.uuid4().hex[:12]}")


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name, "Content-Type": "application/json"}


def posts(path: str, bodies: list[Any], prefix: str) -> list[dict[str, Any]]:
    return [
        {"method": "POST", "url": path, "headers": key(f"{prefix}-{n}"), "content": body}
        for n, body in enumerate(bodies)
    ]


def test_concurrent_debits_never_overdraw_the_wallet(db_settings: Settings) -> None:
    with running_app(None, settings=db_settings) as client:
        created = client.post(
            "/api/customers", headers=key("c"), content=b'{"balances":{"USD":200.00}}'
        )
        customer = created.json()["id"]
        path = f"/api/customers/{customer}/balance-transactions"
        debit = b'{"amount":-10.00,"currency":"USD"}'
        responses = client.concurrently(posts(path, [debit] * BURST, "d"))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 20, 409: BURST - 20}, statuses
        for refused in (r for r in responses if r.status_code == 409):
            assert refused.json()["type"] == "/problems/insufficient-balance"
        afters = sorted(
            Decimal(str(r.json()["available"])) for r in responses if r.status_code == 201
        )
        assert afters == [Decimal(10 * n) for n in range(20)]  # each balance once, none below 0
        ledger = client.get(path, params={"limit": 500}).json()
        assert sum(Decimal(str(e["amount"])) for e in ledger) == 0
        balances = client.get(f"/api/customers/{customer}").json()["balances"]
        assert balances == [{"currency": "USD", "available": 0, "reserved": 0}]


def test_concurrent_attaches_of_one_card_to_one_customer_let_one_win(
    db_settings: Settings,
) -> None:
    with running_app(None, settings=db_settings) as client:
        customer = client.post("/api/customers", headers=key("c")).json()["id"]
        body = json.dumps({"type": "card", "card": CARD}).encode()
        methods = []
        for n in range(BURST):
            saved = client.post("/api/payment-methods", headers=key(f"s-{n}"), content=body)
            assert saved.status_code == 201
            methods.append(saved.json()["id"])
        attach = json.dumps({"customer": customer}).encode()
        requests = [
            {
                "method": "POST",
                "url": f"/api/payment-methods/{method}/attach",
                "headers": key(f"a-{n}"),
                "content": attach,
            }
            for n, method in enumerate(methods)
        ]
        responses = client.concurrently(requests)
        winners = [r.json()["id"] for r in responses if r.status_code == 200]
        assert len(winners) == 1, Counter(r.status_code for r in responses)
        for refused in (r for r in responses if r.status_code != 200):
            assert refused.status_code == 409
            assert refused.json()["type"] == "/problems/payment-method-duplicate"
            assert refused.json()["existingPaymentMethod"] == winners[0]
        attached = client.get(f"/api/customers/{customer}/payment-methods").json()
        assert [m["id"] for m in attached] == winners


def test_concurrent_saves_of_one_card_for_one_customer_let_one_win(
    db_settings: Settings,
) -> None:
    with running_app(None, settings=db_settings) as client:
        customer = client.post("/api/customers", headers=key("c")).json()["id"]
        body = json.dumps({"type": "card", "card": CARD, "customer": customer}).encode()
        responses = client.concurrently(posts("/api/payment-methods", [body] * BURST, "s"))
        winners = [r.json()["id"] for r in responses if r.status_code == 201]
        assert len(winners) == 1, Counter(r.status_code for r in responses)
        refused = [r.json() for r in responses if r.status_code != 201]
        assert {p["type"] for p in refused} == {"/problems/payment-method-duplicate"}
        assert {p["existingPaymentMethod"] for p in refused} == set(winners)
