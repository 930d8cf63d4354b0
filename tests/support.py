"""Helpers shared by the test layers: an injectable clock and app builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from payflow.app import create_app
from payflow.config import Settings, load_settings
from payflow.domain.orders import Order, OrderStatus
from payflow.domain.wallets import ledger_totals
from payflow.lifespan import Overrides, runtime_of
from payflow.store.base import Store
from payflow.timefmt import Clock
from payflow.worker.channel import WorkQueue
from payflow.worker.poller import poll_once

# In the future, so that the database's TTL monitor (real time) never removes test records.
START = datetime(2036, 11, 22, 20, 47, 1, 123000, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(**changes: Any) -> Settings:
    settings = load_settings()
    settings.processing.delay_seconds = 0
    settings.processing.poll_interval_seconds = 0.05
    settings.server.port = 8000
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        setattr(getattr(settings, section), key, value)
    return settings


@asynccontextmanager
async def app_client(
    database: Any,
    *,
    clock: FakeClock | None = None,
    settings: Settings | None = None,
    run_worker: bool = False,
    http_transport: httpx.AsyncBaseTransport | None = None,
    deliver_in_process: bool = True,
) -> AsyncIterator[AsyncTestClient[Any]]:
    """A test client on a payflow app bound to `database`, worker off unless asked."""
    app = create_app(
        settings or make_settings(),
        Overrides(
            clock=clock or FakeClock(),
            database=database,
            run_worker=run_worker,
            http_transport=http_transport,
            deliver_in_process=deliver_in_process,
        ),
    )
    async with AsyncTestClient(app=app) as client:
        client.app_runtime = runtime_of(app)  # type: ignore[attr-defined]
        client.app_http = app.state.http_transport  # type: ignore[attr-defined]
        yield client


def problem_slug(response: Any) -> str:
    """The slug of a problem+json answer's `type` (and a check that it is one)."""
    assert response.headers["content-type"].startswith("application/problem+json")
    slug: str = response.json()["type"].rsplit("/", 1)[-1]
    return slug


def order_body(order_number: str = "ORD-67890", amount: str = "149.99", **extra: str) -> bytes:
    fields = [f'"orderNumber":"{order_number}"', f'"amount":{amount}']
    fields += [f'"{k}":"{v}"' for k, v in extra.items()]
    return ("{" + ",".join(fields) + "}").encode()


def card_order(
    order_id: str,
    order_number: str,
    at: datetime,
    amount: str = "10.00",
    status: OrderStatus = OrderStatus.PENDING,
) -> Order:
    """An order as the store keeps it, paid by the test card that succeeds, made at `at`."""
    return Order(
        id=order_id,
        order_number=order_number,
        amount=Decimal(amount),
        currency="USD",
        status=status,
        payment_method="pm_card_visa",
        created_at=at,
        updated_at=at,
    )


async def nothing_is_due(store: Store, clock: Clock) -> bool:
    """Whether a poll at `clock`'s time would find no work due in `store`."""
    queue = WorkQueue(100, clock)
    try:
        return await poll_once(store, queue, clock, 100) == 0
    finally:
        await queue.aclose()


async def wallet_books(store: Store, customer_id: str, currency: str = "USD") -> tuple[int, int]:
    """(available, reserved) of a wallet in minor units, after checking its books: the
    wallet equals the sum of its ledger, and neither number is negative."""
    customer = await store.customers.get(customer_id)
    assert customer is not None
    wallet = customer.balance(currency)
    ledger = ledger_totals(await store.wallets.ledger_of(customer_id)).get(currency)
    if ledger is not None:
        assert ledger == wallet
    assert wallet.available_minor >= 0
    assert wallet.reserved_minor >= 0
    return wallet.available_minor, wallet.reserved_minor
