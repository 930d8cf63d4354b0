"""The money store on the real embedded server: the same cases as on mongomock, plus
what only a real server decides: concurrent reservations never overdraw a wallet, and
captures and releases racing each other keep the books balanced.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from payflow.domain.wallets import (
    Balance,
    EntryType,
    InsufficientBalance,
    Movement,
    capture,
    release,
    reserve,
)
from payflow.store.base import PaymentMethodDuplicate
from payflow.store.mongo import MongoStore
from tests.money_store_cases import *  # noqa: F403 - the cases, collected here
from tests.money_store_cases import assert_books_balance, new_customer, saved
from tests.support import START

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def money_db(mongo_db: Any) -> Any:
    return mongo_db


RESERVATIONS = 50
HOLD = 1_000  # 10.00 USD
WALLET = 20_000  # 200.00 USD


async def test_concurrent_reservations_never_overdraw_and_racing_captures_and_releases_balance(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=WALLET)
    refused: list[str] = []
    held: list[str] = []

    async def authorize(n: int) -> None:
        try:
            await store.wallets.apply(
                customer.id, [reserve(f"ord_{n}", f"R-{n}", "USD", HOLD)], START
            )
        except InsufficientBalance:
            refused.append(f"ord_{n}")
        else:
            held.append(f"ord_{n}")

    async with anyio.create_task_group() as tasks:
        for n in range(RESERVATIONS):
            tasks.start_soon(authorize, n)

    assert (len(held), len(refused)) == (WALLET // HOLD, RESERVATIONS - WALLET // HOLD)
    wallet = await store.customers.get(customer.id)
    assert wallet is not None
    assert wallet.balance("USD") == Balance("USD", 0, WALLET)

    # Each hold is captured in full, captured in part, or released, and every step runs
    # twice at once (a retry racing its first run): each applies exactly once.
    def step_for(i: int, order_id: str) -> list[Movement]:
        number = order_id.replace("ord_", "R-")
        if i % 3 == 0:
            return capture(order_id, number, "USD", HOLD, HOLD)
        if i % 3 == 1:
            return capture(order_id, number, "USD", HOLD - 250, HOLD)
        return [release(order_id, number, "USD", HOLD)]

    steps = [step_for(i, order_id) for i, order_id in enumerate(held)]
    runs: list[bool] = []

    async def run(step: list[Movement]) -> None:
        runs.append((await store.wallets.apply(customer.id, step, START)).rerun)

    async with anyio.create_task_group() as tasks:
        for step in steps + steps:
            tasks.start_soon(run, step)

    # Of two runs of a step, the later one finds some or all of its entries in: a re-run.
    assert runs.count(True) >= len(steps)
    ledger = await store.wallets.ledger_of(customer.id)
    assert len(ledger) == 1 + len(held) + sum(len(step) for step in steps)
    captured = sum(m.minor for step in steps for m in step if m.type is EntryType.CAPTURE)
    wallet = await store.customers.get(customer.id)
    assert wallet is not None
    assert wallet.balance("USD") == Balance("USD", WALLET - captured, 0)
    await assert_books_balance(store, customer.id)


async def test_concurrent_attaches_of_one_card_to_one_customer_keep_exactly_one(
    store: MongoStore,
) -> None:
    customer = await new_customer(store)
    methods = [await store.payment_methods.insert(saved()) for _ in range(10)]
    attached: list[str] = []
    duplicates: list[str] = []

    async def attach(method_id: str) -> None:
        try:
            await store.payment_methods.attach(method_id, customer.id, START)
        except PaymentMethodDuplicate as refused:
            duplicates.append(refused.existing)
        else:
            attached.append(method_id)

    async with anyio.create_task_group() as tasks:
        for method in methods:
            tasks.start_soon(attach, method.id)

    assert len(attached) == 1
    assert duplicates == attached * (len(methods) - 1)
    listed, _ = await store.payment_methods.for_customer(customer.id, 20, None)
    assert [m.id for m in listed] == attached
