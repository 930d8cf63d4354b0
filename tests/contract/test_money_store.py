"""The money store: customers, wallet movements, saved cards (DESIGN §7); and what only
a real server decides: concurrent reservations never overdraw a wallet, captures and
releases racing each other keep the books balanced, one card attaches once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

from payflow.domain.cards import read_card
from payflow.domain.customers import Customer, new_customer_id
from payflow.domain.saved_methods import SavedPaymentMethod, new_payment_method_id
from payflow.domain.wallets import (
    Balance,
    EntryType,
    InsufficientBalance,
    Movement,
    adjustment,
    capture,
    charge,
    ledger_totals,
    opening_balance,
    refund,
    release,
    reserve,
)
from payflow.store.base import (
    CustomerNotFound,
    InvalidCursor,
    PaymentMethodAttached,
    PaymentMethodDetached,
    PaymentMethodDuplicate,
    PaymentMethodNotFound,
)
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import START

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]
# Concurrency needs a server that runs writes at once (mongomock runs one at a time).
ON_REAL_SERVERS = pytest.mark.backends("embedded", "mongod-rs")

KEY = b"k" * 32
VISA = "4242 4242 4242 4242"


async def new_customer(store: MongoStore, **opening: int) -> Customer:
    customer = Customer(id=new_customer_id(), created_at=START, name="Ada")
    movements = [opening_balance(customer.id, c, minor) for c, minor in opening.items()]
    return await store.customers.insert(customer, movements)


async def assert_books_balance(store: MongoStore, customer_id: str) -> None:
    """The wallet equals the sum of its ledger, and nothing is negative."""
    customer = await store.customers.get(customer_id)
    assert customer is not None
    totals = ledger_totals(await store.wallets.ledger_of(customer_id))
    for balance in customer.balances:
        assert balance.available_minor >= 0
        assert balance.reserved_minor >= 0
        assert totals[balance.currency] == balance
    assert set(totals) == {b.currency for b in customer.balances}


# Customers


async def test_a_customer_is_stored_with_its_opening_balances_and_their_ledger_entries(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=10_000, JPY=500)

    stored = await store.customers.get(customer.id)
    assert stored == customer
    assert stored.balance("USD").available_minor == 10_000
    assert stored.balance("JPY").available_minor == 500
    ledger = await store.wallets.ledger_of(customer.id)
    assert sorted((e.currency, e.type, e.amount_minor) for e in ledger) == [
        ("JPY", EntryType.ADJUSTMENT, 500),
        ("USD", EntryType.ADJUSTMENT, 10_000),
    ]
    await assert_books_balance(store, customer.id)


async def test_customers_are_listed_newest_first_in_cursor_pages(store: MongoStore) -> None:
    made = []
    for n in range(5):
        customer = Customer(id=new_customer_id(), created_at=START + timedelta(seconds=n))
        made.append(await store.customers.insert(customer, []))

    first, cursor = await store.customers.page(3, None)
    assert cursor is not None
    second, end = await store.customers.page(3, cursor)

    assert [c.id for c in first + second] == [c.id for c in reversed(made)]
    assert end is None


async def test_a_customer_of_another_client_is_not_found(store: MongoStore) -> None:
    customer = Customer(id=new_customer_id(), created_at=START, scope="key_a")
    await store.customers.insert(customer, [])

    assert await store.customers.get(customer.id, scope="key_b") is None
    assert await store.customers.get(customer.id, scope="key_a") == customer
    assert (await store.customers.page(10, None, scope="key_b"))[0] == []


# Wallet movements


async def test_credits_and_debits_move_available_and_write_the_balance_after_them(
    store: MongoStore,
) -> None:
    customer = await new_customer(store)

    credit = await store.wallets.apply(customer.id, [adjustment("k1", "USD", 2_500)], START)
    debit = await store.wallets.apply(customer.id, [adjustment("k2", "USD", -1_000)], START)

    assert not credit.rerun
    assert credit.entries[0].available_minor == 2_500
    assert (debit.entries[0].amount_minor, debit.entries[0].available_minor) == (-1_000, 1_500)
    page, _ = await store.wallets.transactions(customer.id, 10, None)
    assert {e.id for e in page} == {credit.entries[0].id, debit.entries[0].id}
    await assert_books_balance(store, customer.id)


async def test_a_debit_beyond_the_available_balance_raises_and_changes_nothing(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=1_000)

    with pytest.raises(InsufficientBalance) as refused:
        await store.wallets.apply(customer.id, [adjustment("k", "USD", -1_001)], START)

    assert (refused.value.available_minor, refused.value.needed_minor) == (1_000, 1_001)
    stored = await store.customers.get(customer.id)
    assert stored is not None
    assert stored.balance("USD").available_minor == 1_000
    await assert_books_balance(store, customer.id)


async def test_a_debit_in_a_currency_never_held_raises_insufficient_balance(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=1_000)

    with pytest.raises(InsufficientBalance):
        await store.wallets.apply(customer.id, [adjustment("k", "EUR", -1)], START)


async def test_a_movement_for_an_unknown_customer_raises_customer_not_found(
    store: MongoStore,
) -> None:
    with pytest.raises(CustomerNotFound):
        await store.wallets.apply("cus_missing", [adjustment("k", "USD", 1)], START)


async def test_reserve_then_partial_capture_releases_the_rest_in_the_same_step(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=10_000)

    held = await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 3_000)], START)
    captured = await store.wallets.apply(
        customer.id, capture("ord_1", "A-1", "USD", 2_000, 3_000), START
    )

    assert held.entries[0].balance.available_minor == 7_000
    assert held.entries[0].balance.reserved_minor == 3_000
    after = [(e.type, e.available_minor, e.reserved_minor) for e in captured.entries]
    assert after == [(EntryType.CAPTURE, 7_000, 1_000), (EntryType.RELEASE, 8_000, 0)]
    await assert_books_balance(store, customer.id)


async def test_a_reservation_beyond_available_raises_and_a_release_gives_the_hold_back(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=1_000)
    await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 800)], START)

    with pytest.raises(InsufficientBalance):
        await store.wallets.apply(customer.id, [reserve("ord_2", "A-2", "USD", 300)], START)
    released = await store.wallets.apply(customer.id, [release("ord_1", "A-1", "USD", 800)], START)

    assert released.entries[0].balance.available_minor == 1_000
    assert released.entries[0].balance.reserved_minor == 0
    await assert_books_balance(store, customer.id)


async def test_a_charge_and_its_refund_debit_and_credit_the_wallet(store: MongoStore) -> None:
    customer = await new_customer(store, USD=1_000)

    await store.wallets.apply(customer.id, charge("ord_1", "A-1", "USD", 600), START)
    back = await store.wallets.apply(
        customer.id, [refund("ord_1", "A-1", "re_1", "USD", 250)], START
    )

    assert back.entries[0].balance.available_minor == 650
    assert back.entries[0].balance.reserved_minor == 0
    await assert_books_balance(store, customer.id)


MOVES: list[tuple[str, list[Movement]]] = [
    ("credit", [adjustment("again", "USD", 700)]),
    ("debit", [adjustment("again", "USD", -700)]),
    ("reserve", [reserve("ord_r", "R-1", "USD", 700)]),
    ("charge", charge("ord_r", "R-1", "USD", 700)),
    ("refund", [refund("ord_r", "R-1", "re_1", "USD", 700)]),
]


@pytest.mark.parametrize(("name", "moves"), MOVES, ids=[name for name, _ in MOVES])
async def test_re_running_a_movement_with_the_same_entry_ids_changes_no_balance(
    store: MongoStore, name: str, moves: list[Movement]
) -> None:
    customer = await new_customer(store, USD=5_000)
    first = await store.wallets.apply(customer.id, moves, START)
    before = await store.customers.get(customer.id)

    again = await store.wallets.apply(customer.id, moves, START + timedelta(minutes=5))

    assert again.rerun
    assert again.entries == first.entries
    assert await store.customers.get(customer.id) == before
    await assert_books_balance(store, customer.id)


async def test_a_crash_after_the_ledger_insert_leaves_nothing_a_reader_can_see(
    store: MongoStore, database: Any
) -> None:
    customer = await new_customer(store, USD=5_000)
    snapshot = (await database.customers.find_one({"_id": customer.id}))["wallet"]
    held = await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 1_000)], START)
    # The snapshot's update never happened: the process died right after the insert.
    await database.customers.update_one({"_id": customer.id}, {"$set": {"wallet": snapshot}})

    stored = await store.customers.get(customer.id)
    again = await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 1_000)], START)

    assert stored is not None
    assert stored.balance("USD") == held.entries[0].balance
    assert again.rerun
    assert again.entries == held.entries
    saved = (await database.customers.find_one({"_id": customer.id}))["wallet"]
    assert saved["seq"] == snapshot["seq"] + 1
    await assert_books_balance(store, customer.id)


async def test_a_step_cut_short_after_its_first_entry_is_completed_by_its_re_run(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=5_000)
    step = charge("ord_1", "A-1", "USD", 1_000)  # a reserve, then its capture
    first = await store.wallets.apply(customer.id, step[:1], START)  # died after the reserve

    again = await store.wallets.apply(customer.id, step, START)

    assert again.rerun
    assert again.entries[0] == first.entries[0]
    assert again.entries[1].balance == Balance("USD", 4_000, 0)
    await assert_books_balance(store, customer.id)


async def test_a_run_that_finds_the_balance_its_twin_just_left_is_a_re_run_not_short(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await new_customer(store, USD=1_000)
    await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 1_000)], START)
    step = capture("ord_1", "A-1", "USD", 750, 1_000)  # then release 250: all that is held
    first_look = store.wallets._entry
    twin: list[bool] = []  # the twin's run: started, then whether it was a re-run

    async def look_while_the_twin_finishes(customer_id: str, entry_id: str) -> Any:
        found = await first_look(customer_id, entry_id)
        if entry_id == step[1].entry_id and not twin:
            twin.append(True)
            twin.append((await store.wallets.apply(customer.id, step, START)).rerun)
        return found

    monkeypatch.setattr(store.wallets, "_entry", look_while_the_twin_finishes)
    await store.wallets.apply(customer.id, step[:1], START)  # the twin's capture went in

    again = await store.wallets.apply(customer.id, step, START)

    assert twin == [True, True]
    assert again.rerun
    assert again.entries[1].balance == Balance("USD", 250, 0)
    await assert_books_balance(store, customer.id)


async def test_creating_a_customer_again_credits_its_opening_balance_once(
    store: MongoStore,
) -> None:
    customer = Customer(id=new_customer_id(), created_at=START, name="Ada")
    await store.customers.insert(customer, [])  # died before the credit
    opening = [opening_balance(customer.id, "USD", 5_000)]

    first = await store.customers.insert(customer, opening)
    again = await store.customers.insert(customer, opening)

    assert first == again
    assert again.balance("USD") == Balance("USD", 5_000, 0)
    await assert_books_balance(store, customer.id)


async def test_the_ledger_is_listed_newest_first_in_the_order_it_was_applied(
    store: MongoStore,
) -> None:
    customer = await new_customer(store, USD=5_000)
    await store.wallets.apply(customer.id, [reserve("ord_1", "A-1", "USD", 1_000)], START)
    await store.wallets.apply(customer.id, capture("ord_1", "A-1", "USD", 400, 1_000), START)

    first, cursor = await store.wallets.transactions(customer.id, 2, None)
    assert cursor is not None
    rest, end = await store.wallets.transactions(customer.id, 2, cursor)

    assert [e.type for e in first + rest] == [
        EntryType.RELEASE,
        EntryType.CAPTURE,
        EntryType.RESERVE,
        EntryType.ADJUSTMENT,
    ]
    assert end is None
    with pytest.raises(InvalidCursor):
        await store.wallets.transactions(customer.id, 2, "not-a-cursor")


# Saved payment methods


def saved(
    customer: str | None = None, number: str = VISA, exp_year: int = 2040
) -> SavedPaymentMethod:
    card = read_card(number, 12, exp_year, START, KEY)
    return SavedPaymentMethod(new_payment_method_id(), card, START, customer=customer)


async def test_a_saved_card_keeps_no_number_and_reads_back_as_saved(
    store: MongoStore, database: Any
) -> None:
    method = await store.payment_methods.insert(saved(number="4000-0000-0000-0002"))

    assert await store.payment_methods.get(method.id) == method
    assert method.card.failure_code == "generic_decline"
    stored = await database.payment_methods.find_one({"_id": method.id})
    assert "4000000000000002" not in repr(stored)
    assert "4000-0000-0000-0002" not in repr(stored)


async def test_attaching_a_card_the_customer_holds_already_names_the_first_method(
    store: MongoStore,
) -> None:
    customer = await new_customer(store)
    first = await store.payment_methods.insert(saved(customer.id))
    second = await store.payment_methods.insert(saved(exp_year=2041))  # same number

    with pytest.raises(PaymentMethodDuplicate) as refused:
        await store.payment_methods.attach(second.id, customer.id, START)

    assert refused.value.existing == first.id
    with pytest.raises(PaymentMethodDuplicate):
        await store.payment_methods.insert(saved(customer.id))


async def test_the_same_card_may_be_attached_to_another_customer_with_the_same_fingerprint(
    store: MongoStore,
) -> None:
    ada, bob = await new_customer(store), await new_customer(store)
    first = await store.payment_methods.insert(saved(ada.id))
    other = await store.payment_methods.insert(saved())

    attached = await store.payment_methods.attach(other.id, bob.id, START)

    assert attached.customer == bob.id
    assert attached.card.fingerprint == first.card.fingerprint
    listed, _ = await store.payment_methods.for_customer(bob.id, 10, None)
    assert [m.id for m in listed] == [other.id]


async def test_attaching_twice_to_the_same_customer_is_a_no_op_and_another_customer_is_refused(
    store: MongoStore,
) -> None:
    ada, bob = await new_customer(store), await new_customer(store)
    method = await store.payment_methods.insert(saved())
    attached = await store.payment_methods.attach(method.id, ada.id, START)

    assert await store.payment_methods.attach(method.id, ada.id, START) == attached
    with pytest.raises(PaymentMethodAttached):
        await store.payment_methods.attach(method.id, bob.id, START)


async def test_detach_is_permanent_and_frees_the_card_for_a_new_method(store: MongoStore) -> None:
    customer = await new_customer(store)
    method = await store.payment_methods.insert(saved(customer.id))

    detached = await store.payment_methods.detach(method.id, START)

    assert detached.customer is None
    assert not detached.usable
    with pytest.raises(PaymentMethodDetached):
        await store.payment_methods.attach(method.id, customer.id, START)
    with pytest.raises(PaymentMethodDetached):
        await store.payment_methods.detach(method.id, START)
    again = await store.payment_methods.insert(saved(customer.id))
    assert again.customer == customer.id
    assert (await store.payment_methods.for_customer(customer.id, 10, None))[0] == [again]


async def test_an_unknown_method_cannot_be_attached_or_detached(store: MongoStore) -> None:
    with pytest.raises(PaymentMethodNotFound):
        await store.payment_methods.attach("pm_missing", "cus_x", START)
    with pytest.raises(PaymentMethodNotFound):
        await store.payment_methods.detach("pm_missing", START)


async def test_the_fingerprint_key_is_made_once_per_installation(store: MongoStore) -> None:
    first = await store.payment_methods.fingerprint_key()

    assert await store.payment_methods.fingerprint_key() == first
    assert len(first) == 32


# What only a real server decides

RESERVATIONS = 50
HOLD = 1_000  # 10.00 USD
WALLET = 20_000  # 200.00 USD


@ON_REAL_SERVERS
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


@ON_REAL_SERVERS
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
