"""A wallet under any sequence of movements and re-runs keeps its books (mongomock).

Hypothesis drives one customer's wallet through credits, debits, authorizations,
captures (whole and partial), releases, refunds, and re-runs of any step already
taken, against a model of what the balances must be. After every step the wallet
equals the model and the sum of its ledger, and nothing is negative.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mongomock_motor import AsyncMongoMockClient

from payflow.domain.customers import Customer
from payflow.domain.wallets import (
    Balance,
    InsufficientBalance,
    Movement,
    adjustment,
    capture,
    ledger_totals,
    opening_balance,
    refund,
    release,
    reserve,
)
from payflow.store.mongo import MongoStore
from tests.support import START

T = TypeVar("T")
CUSTOMER = "cus_state"
amounts = st.integers(1, 5_000)


class WalletMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = MongoStore(AsyncMongoMockClient(tz_aware=True)["wallet"])
        self.run(self.store.ensure_indexes())
        self.run(
            self.store.customers.insert(
                Customer(CUSTOMER, START), [opening_balance(CUSTOMER, "USD", 10_000)]
            )
        )
        self.available, self.reserved = 10_000, 0
        self.holds: dict[str, int] = {}  # order → amount held
        self.paid: dict[str, int] = {}  # order → captured amount not refunded yet
        self.steps: list[list[Movement]] = []  # every step applied, for re-runs
        self.counter = 0

    def teardown(self) -> None:
        self.loop.close()

    def run(self, job: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(job)

    def fresh(self) -> str:
        self.counter += 1
        return f"ord_{self.counter}"

    def apply(self, step: list[Movement]) -> bool:
        """Apply `step`; whether it went in (False: InsufficientBalance)."""
        try:
            moved = self.run(self.store.wallets.apply(CUSTOMER, step, START))
        except InsufficientBalance:
            return False
        assert not moved.rerun
        self.steps.append(step)
        return True

    @rule(amount=amounts)
    def credit(self, amount: int) -> None:
        assert self.apply([adjustment(self.fresh(), "USD", amount)])
        self.available += amount

    @rule(amount=amounts)
    def debit(self, amount: int) -> None:
        applied = self.apply([adjustment(self.fresh(), "USD", -amount)])
        assert applied == (amount <= self.available)
        if applied:
            self.available -= amount

    @rule(amount=amounts)
    def authorize(self, amount: int) -> None:
        order = self.fresh()
        applied = self.apply([reserve(order, order, "USD", amount)])
        assert applied == (amount <= self.available)
        if applied:
            self.available -= amount
            self.reserved += amount
            self.holds[order] = amount

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), share=st.floats(0.01, 1.0))
    def capture_some(self, data: st.DataObject, share: float) -> None:
        order = data.draw(st.sampled_from(sorted(self.holds)))
        held = self.holds.pop(order)
        captured = max(1, int(held * share))
        assert self.apply(capture(order, order, "USD", captured, held))
        self.reserved -= held
        self.available += held - captured
        self.paid[order] = captured

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def cancel_or_expire(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(sorted(self.holds)))
        held = self.holds.pop(order)
        assert self.apply([release(order, order, "USD", held)])
        self.reserved -= held
        self.available += held

    @precondition(lambda self: self.paid)
    @rule(data=st.data())
    def refund_some(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(sorted(self.paid)))
        amount = data.draw(st.integers(1, self.paid[order]))
        assert self.apply([refund(order, order, self.fresh(), "USD", amount)])
        self.paid[order] -= amount
        if not self.paid[order]:
            del self.paid[order]
        self.available += amount

    @precondition(lambda self: self.steps)
    @rule(data=st.data())
    def re_run(self, data: st.DataObject) -> None:
        step = data.draw(st.sampled_from(self.steps))
        moved = self.run(self.store.wallets.apply(CUSTOMER, step, START))
        assert moved.rerun

    @invariant()
    def books_balance(self) -> None:
        customer = self.run(self.store.customers.get(CUSTOMER))
        assert customer is not None
        wallet = customer.balance("USD")
        assert wallet == Balance("USD", self.available, self.reserved)
        assert wallet.available_minor >= 0
        assert wallet.reserved_minor >= 0
        ledger = self.run(self.store.wallets.ledger_of(CUSTOMER))
        assert ledger_totals(ledger)["USD"] == wallet


WalletMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_a_wallet_keeps_its_books_under_any_movements_and_re_runs = WalletMachine.TestCase
