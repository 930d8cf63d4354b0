"""A hypothesis state machine over wallet-paid orders, shared by mongomock and the real server.

Customers, credits and debits, orders paid from the wallet (automatic and manual capture),
authorizations, captures (full and partial), cancels, expiries, refunds and re-runs of any
order's job, each through the same code the API and the worker run (`store.orders` for
the decisions, `payflow.settlement` for the money). A model says what each wallet must
hold; after every step each wallet equals the model and the sum of its ledger, and nothing
is negative. The receiver's part (a Pending order moved by its event) is the store's
`apply_payment`, as the receiver calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from payflow.domain.customers import Customer, new_customer_id
from payflow.domain.events import TARGET_STATUS
from payflow.domain.money import from_minor
from payflow.domain.orders import BALANCE, CaptureMethod, Order, OrderStatus, new_order_id
from payflow.domain.refunds import Refund, derive_refund_id
from payflow.domain.wallets import InsufficientBalance, adjustment, ledger_totals
from payflow.refunding import count_refund
from payflow.settlement import capture_hold, decide, refund_to_wallet, release_hold
from payflow.store.base import Store
from tests.support import FakeClock

T = TypeVar("T")
HOLD = timedelta(hours=1)
amounts = st.integers(1, 3_000)


@dataclass
class Wallet:
    available: int = 0
    reserved: int = 0


@dataclass
class Placed:
    customer: str
    minor: int
    manual: bool
    status: str = "Pending"  # as the model expects it
    captured: int = 0
    refunded: int = 0


class OrderMoneyMachine(RuleBasedStateMachine):
    """Subclasses say how to open a store on this machine's own event loop, and how to
    close what it opened."""

    open_store: ClassVar[Callable[[], Coroutine[Any, Any, tuple[Store, Callable[[], None]]]]]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.store, self.close_store = self.run(type(self).open_store())
        self.wallets: dict[str, Wallet] = {}
        self.orders: dict[str, Placed] = {}  # order number → what the model expects
        self.ids: dict[str, str] = {}
        self.counter = 0

    def teardown(self) -> None:
        self.close_store()
        self.loop.close()

    def run(self, job: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(job)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def order(self, number: str) -> Order:
        found = self.run(self.store.orders.get(number))
        assert found is not None
        return found

    def job(self, number: str) -> None:
        """What the order's job does: money first, then (for a payment) the receiver."""
        order = self.order(number)
        decision = self.run(decide(self.store, order, self.clock(), HOLD))
        event = decision.event
        if event is not None and event.type in TARGET_STATUS:
            data = event.data
            self.run(
                self.store.orders.apply_payment(
                    number,
                    order.currency,
                    int(order.amount * 100),
                    TARGET_STATUS[event.type],
                    event.id,
                    self.clock(),
                    getattr(data, "failure_code", None),
                    getattr(data, "failure_message", None),
                )
            )
        if decision.authorized_until is not None:
            # The job handed back for the expiry (`schedule_expiry` without a lease here).
            self.run(
                self.store.orders.collection.update_one(  # type: ignore[attr-defined]
                    {"_id": order.id}, {"$set": {"authorizedUntil": decision.authorized_until}}
                )
            )

    # customers and their ledger

    @rule(opening=st.integers(0, 10_000))
    def new_customer(self, opening: int) -> None:
        customer_id = new_customer_id()
        self.run(self.store.customers.insert(Customer(customer_id, self.clock()), []))
        self.wallets[customer_id] = Wallet()
        if opening:
            self.move(customer_id, opening)

    def move(self, customer_id: str, minor: int) -> bool:
        step = adjustment(self.fresh("adj"), "USD", minor)
        try:
            self.run(self.store.wallets.apply(customer_id, [step], self.clock()))
        except InsufficientBalance:
            return False
        self.wallets[customer_id].available += minor
        return True

    @precondition(lambda self: self.wallets)
    @rule(data=st.data(), amount=amounts, credit=st.booleans())
    def credit_or_debit(self, data: st.DataObject, amount: int, credit: bool) -> None:
        customer = data.draw(st.sampled_from(sorted(self.wallets)))
        fits = credit or amount <= self.wallets[customer].available
        assert self.move(customer, amount if credit else -amount) == fits

    # orders

    @precondition(lambda self: self.wallets)
    @rule(data=st.data(), amount=amounts, manual=st.booleans())
    def pay_from_the_wallet(self, data: st.DataObject, amount: int, manual: bool) -> None:
        customer = data.draw(st.sampled_from(sorted(self.wallets)))
        number = self.fresh("ORD")
        now = self.clock()
        order = Order(
            id=new_order_id(),
            order_number=number,
            amount=from_minor(amount, "USD"),
            currency="USD",
            status=OrderStatus.PENDING,
            payment_method=BALANCE,
            created_at=now,
            updated_at=now,
            customer=customer,
            capture_method=CaptureMethod.MANUAL if manual else CaptureMethod.AUTOMATIC,
        )
        self.run(self.store.orders.insert(order, None, now))
        self.ids[number] = order.id
        wallet = self.wallets[customer]
        fits = amount <= wallet.available
        self.job(number)
        placed = Placed(customer, amount, manual)
        if not fits:
            placed.status = "Failed"
        elif manual:
            placed.status = "Authorized"
            wallet.available -= amount
            wallet.reserved += amount
        else:
            placed.status = "Paid"
            placed.captured = amount
            wallet.available -= amount
        self.orders[number] = placed
        assert self.order(number).status.value == placed.status

    def in_status(self, status: str) -> list[str]:
        return sorted(n for n, p in self.orders.items() if p.status == status)

    @precondition(lambda self: self.in_status("Authorized"))
    @rule(data=st.data(), share=st.floats(0.01, 1.0), died=st.booleans())
    def capture(self, data: st.DataObject, share: float, died: bool) -> None:
        number = data.draw(st.sampled_from(self.in_status("Authorized")))
        placed = self.orders[number]
        captured = max(1, int(placed.minor * share))
        order = self.run(self.store.orders.capture(number, None, captured, self.clock()))
        assert order is not None
        if not died:  # else the process died before the money moved: the job does it
            self.run(capture_hold(self.store, order, self.clock()))
        self.job(number)
        assert self.run(self.store.orders.capture(number, None, captured, self.clock())) is None
        placed.status, placed.captured = "Paid", captured
        wallet = self.wallets[placed.customer]
        wallet.reserved -= placed.minor
        wallet.available += placed.minor - captured

    @precondition(lambda self: self.in_status("Authorized"))
    @rule(data=st.data(), died=st.booleans())
    def cancel(self, data: st.DataObject, died: bool) -> None:
        number = data.draw(st.sampled_from(self.in_status("Authorized")))
        order = self.run(self.store.orders.cancel(number, None, self.clock()))
        assert order is not None
        if not died:
            self.run(release_hold(self.store, order, self.clock()))
        self.job(number)
        assert self.run(self.store.orders.capture(number, None, 1, self.clock())) is None
        self.released(number)

    def released(self, number: str) -> None:
        placed = self.orders[number]
        placed.status = "Canceled"
        wallet = self.wallets[placed.customer]
        wallet.reserved -= placed.minor
        wallet.available += placed.minor

    @precondition(lambda self: self.in_status("Authorized"))
    @rule()
    def expire(self) -> None:
        self.clock.advance(seconds=HOLD.total_seconds() + 1)
        for number in self.in_status("Authorized"):
            self.job(number)
            order = self.order(number)
            assert (order.status, order.cancellation_reason) == (OrderStatus.CANCELED, "expired")
            self.released(number)

    @precondition(
        lambda self: any(
            p.captured > p.refunded
            for p in self.orders.values()
            if p.status in ("Paid", "PartiallyRefunded")
        )
    )
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        candidates = sorted(
            n
            for n, p in self.orders.items()
            if p.status in ("Paid", "PartiallyRefunded") and p.captured > p.refunded
        )
        number = data.draw(st.sampled_from(candidates))
        placed = self.orders[number]
        amount = data.draw(st.integers(1, placed.captured - placed.refunded))
        order = self.order(number)
        refund_id = derive_refund_id(self.fresh("re"))
        counted, _ = self.run(
            count_refund(self.store.orders, order, refund_id, amount, self.clock())
        )
        given = Refund(refund_id, order.id, number, Decimal(amount) / 100, "USD", self.clock())
        self.run(refund_to_wallet(self.store, given, self.clock()))
        self.run(refund_to_wallet(self.store, given, self.clock()))  # a re-run: no-op
        placed.refunded += amount
        placed.status = counted.status.value
        self.wallets[placed.customer].available += amount

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def re_run_a_job(self, data: st.DataObject) -> None:
        number = data.draw(st.sampled_from(sorted(self.orders)))
        self.job(number)
        assert self.order(number).status.value == self.orders[number].status

    @invariant()
    def books_balance(self) -> None:
        for customer_id, expected in self.wallets.items():
            customer = self.run(self.store.customers.get(customer_id))
            assert customer is not None
            wallet = customer.balance("USD")
            assert (wallet.available_minor, wallet.reserved_minor) == (
                expected.available,
                expected.reserved,
            )
            assert wallet.available_minor >= 0
            assert wallet.reserved_minor >= 0
            ledger = ledger_totals(self.run(self.store.wallets.ledger_of(customer_id)))
            if "USD" in ledger:
                assert ledger["USD"] == wallet
            held = sum(
                p.minor
                for p in self.orders.values()
                if p.customer == customer_id and p.status == "Authorized"
            )
            assert wallet.reserved_minor == held
