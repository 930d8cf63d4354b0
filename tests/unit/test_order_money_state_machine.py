"""Wallet-paid orders under any sequence of steps keep their wallets' books (mongomock).

The machine is `tests/order_money_machine.py`; the real server runs it too
(tests/integration/test_order_money_state_machine.py)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from mongomock_motor import AsyncMongoMockClient

from payflow.store.base import Store
from payflow.store.mongo import MongoStore
from tests.order_money_machine import OrderMoneyMachine


async def mongomock_store() -> tuple[Store, Callable[[], None]]:
    store = MongoStore(AsyncMongoMockClient(tz_aware=True)["orders_money"], journaled=False)
    await store.ensure_indexes()
    return store, lambda: None


class OnMongomock(OrderMoneyMachine):
    open_store = staticmethod(mongomock_store)


OnMongomock.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_wallet_paid_orders_keep_the_books_under_any_steps = OnMongomock.TestCase
