"""The test clock: time stands still until advanced, and everything time-driven follows it.

Each app here runs on `[clock] mode = "test"` with its worker on and a poll interval of a
minute, so work that runs after an advance ran because the advance woke the worker, not
because a poll came round. Waits are deadline-bounded conditions (`tests/waiting.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from payflow import signing
from payflow.config import Settings
from payflow.domain.orders import OrderStatus
from payflow.lifespan import print_banner
from payflow.store.base import IdempotencyRef
from payflow.store.mongo import MongoStore
from payflow.timefmt import isoformat
from tests.support import START, FakeClock, app_client, card_order, make_settings, nothing_is_due
from tests.waiting import eventually, wait_for_status

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
SHOP_URL = "http://shop.test/webhooks"
SLOW_POLL = 60.0
RETRY_WINDOW = 3600.0  # no poll comes round during a test: only an advance's wake-up runs work


@dataclass
class Shop:
    """The merchant's endpoint: answers `status`, keeps what it was sent. payflow's own
    receiver is answered 200 without running it, so orders here stay Pending."""

    received: list[httpx.Request] = field(default_factory=list)
    status: int = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == SHOP_URL:
            self.received.append(request)
            return httpx.Response(self.status)
        return httpx.Response(200, json={"received": True})


def clock_settings(**changes: Any) -> Settings:
    defaults = {
        "clock__mode": "test",
        "clock__start": isoformat(START),
        "processing__poll_interval_seconds": SLOW_POLL,
    }
    return make_settings(**{**defaults, **changes})


@pytest.fixture
def shop() -> Shop:
    return Shop()


@pytest.fixture
async def gateway(mock_db: Any, shop: Shop) -> AsyncIterator[Client]:
    async with (
        httpx.MockTransport(shop) as http,
        app_client(
            mock_db,
            settings=clock_settings(
                processing__delay_seconds=2,
                # A retry's time is random in [0, 1 h): never due at the first attempt's time.
                processing__retry_base_seconds=RETRY_WINDOW,
                processing__retry_max_seconds=RETRY_WINDOW,
            ),
            run_worker=True,
            http_transport=http,
        ) as client,
    ):
        yield client


async def advance(client: Client, seconds: float) -> dict[str, Any]:
    response = await client.post("/api/test-clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text
    clock: dict[str, Any] = response.json()
    return clock


async def create(client: Client, number: str, key: str | None = None, amount: int = 25) -> Any:
    return await client.post(
        "/api/orders",
        headers={"Idempotency-Key": key or number},
        json={"orderNumber": number, "amount": amount},
    )


async def register_shop(client: Client) -> dict[str, Any]:
    response = await client.post(
        "/api/webhook-endpoints", headers={"Idempotency-Key": "shop"}, json={"url": SHOP_URL}
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


def store_of(client: Client) -> MongoStore:
    store: MongoStore = client.app_runtime.store  # type: ignore[attr-defined]
    return store


def clock_of(client: Client) -> Any:
    return client.app_runtime.clock  # type: ignore[attr-defined]


# the routes


async def test_time_stands_still_until_advanced(gateway: Client) -> None:
    first = (await gateway.get("/api/test-clock")).json()
    assert first == {"mode": "test", "now": "2036-11-22T20:47:01.123Z"}
    assert (await gateway.get("/api/test-clock")).json() == first
    after = await advance(gateway, 90)
    assert after == {"mode": "test", "now": "2036-11-22T20:48:31.123Z"}
    assert (await gateway.get("/api/test-clock")).json() == after


async def test_advances_add_up_fractions_included(gateway: Client) -> None:
    await advance(gateway, 0.5)
    assert (await advance(gateway, 1.25))["now"] == "2036-11-22T20:47:02.873Z"


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"seconds":-1}',
        b'{"seconds":"x"}',
        b'{"seconds":true}',
        b'{"seconds":1e12}',
        b'{"seconds":1,"extra":2}',
        b"[]",
        b"not json",
    ],
)
async def test_a_bad_advance_is_a_400_and_moves_nothing(gateway: Client, body: bytes) -> None:
    response = await gateway.post("/api/test-clock/advance", content=body)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await gateway.get("/api/test-clock")).json()["now"] == "2036-11-22T20:47:01.123Z"


async def test_with_the_real_clock_the_routes_are_not_found(client: Client) -> None:
    for response in [
        await client.get("/api/test-clock"),
        await client.post("/api/test-clock/advance", json={"seconds": 1}),
    ]:
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/not-found")


# everything time-driven follows it


async def test_an_order_is_processed_only_once_its_delay_has_passed_on_the_clock(
    gateway: Client,
) -> None:
    assert (await create(gateway, "DELAYED-1")).status_code == 201
    assert await nothing_is_due(store_of(gateway), clock_of(gateway))
    await advance(gateway, 1.999)
    assert await nothing_is_due(store_of(gateway), clock_of(gateway))
    assert (await gateway.get("/api/orders/DELAYED-1")).json()["status"] == "Pending"
    await advance(gateway, 0.001)

    async def its_event() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = (
            await gateway.get("/api/events?orderNumber=DELAYED-1")
        ).json()
        return events

    [event] = await eventually(its_event, "the order's outcome")
    assert (event["type"], event["createdAt"]) == ("payment.succeeded", "2036-11-22T20:47:03.123Z")


async def test_a_failed_delivery_is_retried_when_the_clock_reaches_its_next_attempt(
    gateway: Client, shop: Shop
) -> None:
    await register_shop(gateway)
    shop.status = 500
    await create(gateway, "RETRY-1")
    await advance(gateway, 2)
    await eventually(lambda: _count(shop, 1), "the first attempt")
    assert await nothing_is_due(store_of(gateway), clock_of(gateway))  # its retry: later
    shop.status = 200
    await advance(gateway, RETRY_WINDOW)
    await eventually(lambda: _count(shop, 2), "the retry")
    assert [r.headers["x-payflow-delivery-attempt"] for r in shop.received] == ["1", "2"]


async def _count(shop: Shop, n: int) -> bool:
    return len(shop.received) >= n


async def test_webhook_signatures_carry_the_clocks_time(gateway: Client, shop: Shop) -> None:
    endpoint = await register_shop(gateway)
    await create(gateway, "STAMP-1")
    await advance(gateway, 3600)
    await eventually(lambda: _count(shop, 1), "the webhook")
    expected = int((START + timedelta(hours=1)).timestamp())
    request = shop.received[0]
    stamp = signing.verify(
        signing.Scheme.PAYFLOW, request.content, request.headers, [endpoint["secret"]], expected
    )
    assert stamp == expected


async def test_the_old_secret_stops_signing_when_the_clock_passes_the_grace_period(
    gateway: Client, shop: Shop
) -> None:
    endpoint = await register_shop(gateway)
    await gateway.post(
        f"/api/webhook-endpoints/{endpoint['id']}/rotate-secret",
        headers={"Idempotency-Key": "rotate"},
    )
    await create(gateway, "GRACE-1")
    await advance(gateway, 2)
    await eventually(lambda: _count(shop, 1), "a webhook in the grace period")
    assert shop.received[0].headers["x-signature"].count("v1=") == 2
    await advance(gateway, make_settings().webhooks.rotation_grace_hours * 3600)
    await create(gateway, "GRACE-2")
    await advance(gateway, 2)
    await eventually(lambda: _count(shop, 2), "a webhook after the grace period")
    assert shop.received[1].headers["x-signature"].count("v1=") == 1


async def test_an_idempotency_key_may_be_reused_once_retention_has_passed_on_the_clock(
    gateway: Client,
) -> None:
    assert (await create(gateway, "KEEP-1", key="reused")).status_code == 201
    assert (await create(gateway, "KEEP-2", key="reused")).status_code == 422
    await advance(gateway, make_settings().idempotency.retention_hours * 3600)
    assert (await create(gateway, "KEEP-2", key="reused")).status_code == 201


async def test_an_authorization_expires_when_the_clock_passes_its_hours(gateway: Client) -> None:
    wallet = await gateway.post(
        "/api/customers", headers={"Idempotency-Key": "wallet"}, json={"balances": {"USD": 100}}
    )
    customer = wallet.json()["id"]
    order = {
        "orderNumber": "HOLD-1",
        "amount": 40,
        "customer": customer,
        "paymentMethod": "balance",
        "captureMethod": "manual",
    }
    created = await gateway.post("/api/orders", headers={"Idempotency-Key": "hold"}, json=order)
    assert created.status_code == 201, created.text
    await advance(gateway, 2)
    [authorized] = await eventually(lambda: _events(gateway, "HOLD-1", 1), "the authorization")
    assert authorized["type"] == "payment.authorized"
    held = await gateway.get(f"/api/customers/{customer}")
    assert b'"available":60.00,"reserved":40.00}' in held.content
    await advance(gateway, make_settings().payments.authorization_hours * 3600 - 0.001)
    assert await nothing_is_due(store_of(gateway), clock_of(gateway))
    await advance(gateway, 0.001)
    [_, canceled] = await eventually(lambda: _events(gateway, "HOLD-1", 2), "the expiry")
    assert canceled["type"] == "order.canceled"
    expired = (await gateway.get("/api/orders/HOLD-1")).json()
    assert (expired["status"], expired["cancellationReason"]) == ("Canceled", "expired")
    released = await gateway.get(f"/api/customers/{customer}")
    assert b'"available":100.00,"reserved":0.00}' in released.content


async def _events(client: Client, number: str, n: int) -> list[dict[str, Any]] | None:
    events: list[dict[str, Any]] = (await client.get(f"/api/events?orderNumber={number}")).json()
    return sorted(events, key=lambda e: e["createdAt"]) if len(events) >= n else None


async def test_a_dead_workers_lease_is_taken_over_when_the_clock_passes_it(
    mock_db: Any,
) -> None:
    store = MongoStore(mock_db)
    lease = timedelta(seconds=make_settings().processing.lease_seconds)
    order = card_order("ord_orphaned", "ORPHAN-1", START)
    await store.orders.insert(order, IdempotencyRef("global", "k", "fp"), START)
    assert await store.orders.claim_processing(order.id, "w_dead", START, START + lease)
    async with app_client(mock_db, settings=clock_settings(), run_worker=True) as client:
        assert await nothing_is_due(store, clock_of(client))
        await advance(client, lease.total_seconds() - 0.001)
        assert await nothing_is_due(store, clock_of(client))
        await advance(client, 0.001)
        await wait_for_status(client, "ORPHAN-1", OrderStatus.PAID.value)


# one clock for every process on a database


async def test_two_processes_on_one_database_share_the_clock(mock_db: Any) -> None:
    fast = clock_settings(processing__poll_interval_seconds=0.05)
    async with (
        app_client(mock_db, settings=fast, run_worker=True) as one,
        app_client(mock_db, settings=fast, run_worker=True) as two,
    ):
        moved = await advance(one, 7 * 24 * 3600)
        assert moved["now"] == "2036-11-29T20:47:01.123Z"

        async def two_agrees() -> bool:
            return bool((await two.get("/api/test-clock")).json() == moved)

        await eventually(two_agrees, "the other process to see the advance")


async def test_a_restarted_process_carries_on_from_the_stored_time(mock_db: Any) -> None:
    async with app_client(mock_db, settings=clock_settings()) as first:
        await advance(first, 60)
    later_start = clock_settings(clock__start="2040-01-01T00:00:00Z")
    async with app_client(mock_db, settings=later_start, clock=FakeClock()) as again:
        clock = (await again.get("/api/test-clock")).json()
    assert clock["now"] == "2036-11-22T20:48:01.123Z"


def test_the_start_up_banner_says_the_clock_is_a_test_clock(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_banner(clock_settings(), "mongodb://127.0.0.1:1")
    assert (
        "Clock    test: stands still until POST http://127.0.0.1:8000/api/test-clock/advance"
        in (capsys.readouterr().out)
    )


async def test_an_advance_after_the_clock_document_was_dropped_starts_it_again(
    gateway: Client, mock_db: Any
) -> None:
    await advance(gateway, 60)
    await mock_db.drop_collection("clock")
    assert (await advance(gateway, 60))["now"] == "2036-11-22T20:49:01.123Z"
