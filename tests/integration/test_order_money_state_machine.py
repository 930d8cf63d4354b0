"""The wallet-paid orders state machine (`tests/order_money_machine.py`) on the real
embedded server: few examples, each in a database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from motor.motor_asyncio import AsyncIOMotorClient

from payflow.store.base import Store
from payflow.store.mongo import MongoStore
from tests.order_money_machine import OrderMoneyMachine

pytestmark = pytest.mark.integration


def test_wallet_paid_orders_keep_the_books_on_the_real_server(embedded_uri: str) -> None:
    async def real_store() -> tuple[Store, Callable[[], None]]:
        # Opened on the machine's own loop; each example a fresh database.
        client: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(
            embedded_uri, tz_aware=True
        )
        store = MongoStore(client[f"sm_{uuid.uuid4().hex[:12]}"])
        await store.ensure_indexes()
        return store, client.close

    class OnTheRealServer(OrderMoneyMachine):
        open_store = staticmethod(real_store)

    run_state_machine_as_test(
        OnTheRealServer,
        settings=settings(max_examples=4, stateful_step_count=15, deadline=None),
    )
