"""Orders: insert once per order number, read back exactly, page newest first, decide an
outcome, a cancel and a refund by one conditional update each, and the payment job's
claim, lease, takeover and release."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import anyio
import pytest

from payflow.domain.orders import OrderStatus
from payflow.store.base import (
    IdempotencyRef,
    InvalidCursor,
    OrderNumberTaken,
    OrderWithRef,
    StoredResponse,
)
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import FakeClock, card_order

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]
REF = IdempotencyRef("global", "k", "fp")
CREATED = StoredResponse(201, {"content-type": "application/json"}, b'{"id":"ord_1"}')
LEASE = timedelta(seconds=30)


async def paid(store: MongoStore, clock: FakeClock, number: str = "ORD-1") -> None:
    moved = await store.orders.apply_payment(
        number, "USD", 1000, OrderStatus.PAID, f"evt_{number}", clock.now, None, None
    )
    assert moved.applied


async def test_an_inserted_order_reads_back_as_it_was_made_with_its_key_and_answer(
    store: MongoStore, clock: FakeClock
) -> None:
    order = replace(
        card_order("ord_1", "ORD-1", clock.now, "149.99"), metadata={"cart": "c1"}, scope="a"
    )
    await store.orders.insert(order, REF, clock.now, CREATED)
    assert await store.orders.get("ORD-1") == order
    assert await store.orders.get("ORD-1", scope="a") == order
    assert await store.orders.get("ORD-1", scope="b") is None  # as if absent
    assert await store.orders.get("ORD-2") is None
    assert await store.orders.get_with_ref("ORD-1", "a") == OrderWithRef(order, REF, CREATED)
    assert await store.orders.get_with_ref("ORD-1", "b") is None


async def test_an_order_number_is_taken_once(store: MongoStore, clock: FakeClock) -> None:
    await store.orders.insert(card_order("ord_1", "ORD-1", clock.now), REF, clock.now)
    with pytest.raises(OrderNumberTaken):
        await store.orders.insert(card_order("ord_2", "ORD-1", clock.now), None, clock.now)
    kept = await store.orders.get("ORD-1")
    assert kept is not None
    assert kept.id == "ord_1"


async def test_pages_are_newest_first_and_each_cursor_continues_where_its_page_ended(
    store: MongoStore, clock: FakeClock
) -> None:
    for n in range(5):  # ORD-3 and ORD-4 share a creation time: the id breaks the tie
        at = clock.now + timedelta(seconds=min(n, 3))
        await store.orders.insert(card_order(f"ord_{n}", f"ORD-{n}", at), None, at)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        page = await store.orders.page(None, 2, cursor)
        seen += [order.order_number for order in page.orders]
        cursor = page.next_cursor
    assert seen == ["ORD-4", "ORD-3", "ORD-2", "ORD-1", "ORD-0"]
    assert cursor is None
    await paid(store, clock, "ORD-2")
    only_paid = await store.orders.page(OrderStatus.PAID, 10, None)
    assert [o.order_number for o in only_paid.orders] == ["ORD-2"]
    assert (await store.orders.page(None, 10, None, scope="someone")).orders == []
    with pytest.raises(InvalidCursor):
        await store.orders.page(None, 2, "not-a-cursor")


async def test_an_outcome_moves_a_pending_order_once_and_then_tells_what_decided_it(
    store: MongoStore, clock: FakeClock
) -> None:
    await store.orders.insert(card_order("ord_1", "ORD-1", clock.now), None, clock.now)
    move = store.orders.apply_payment
    wrong_amount = await move("ORD-1", "USD", 999, OrderStatus.PAID, "evt_x", clock.now, None, None)
    assert not wrong_amount.applied
    assert wrong_amount.order is not None
    assert wrong_amount.order.status is OrderStatus.PENDING
    failed = await move(
        "ORD-1", "USD", 1000, OrderStatus.FAILED, "evt_1", clock.now, "expired_card", "Expired."
    )
    assert failed.applied
    again = await move("ORD-1", "USD", 1000, OrderStatus.PAID, "evt_2", clock.now, None, None)
    assert not again.applied
    assert again.applied_event_key == "evt_1"
    assert again.order is not None
    assert (again.order.status, again.order.failure_code) == (OrderStatus.FAILED, "expired_card")
    nothing = await move("ORD-9", "USD", 1000, OrderStatus.PAID, "evt_3", clock.now, None, None)
    assert (nothing.applied, nothing.order) == (False, None)


async def test_of_twenty_concurrent_outcomes_for_one_order_one_moves_it(
    store: MongoStore, clock: FakeClock
) -> None:
    """The receivers' moves go to the database in batches; still only one leaves Pending."""
    order = card_order("ord_race", "RACE-1", clock.now)
    await store.orders.insert(order, None, clock.now + timedelta(hours=1))
    targets = [OrderStatus.PAID, OrderStatus.FAILED] * 10
    results: list[tuple[int, bool]] = []

    async def move(i: int, target: OrderStatus) -> None:
        applied = await store.orders.apply_payment(
            "RACE-1", "USD", 1000, target, f"evt_{i}", clock.now, None, None
        )
        results.append((i, applied.applied))

    async with anyio.create_task_group() as tasks:
        for i, target in enumerate(targets):
            tasks.start_soon(move, i, target)
    winners = [i for i, applied in results if applied]
    assert len(winners) == 1
    stored = await store.orders.get("RACE-1")
    assert stored is not None
    assert stored.status is targets[winners[0]]


async def test_cancel_moves_only_a_pending_order_of_the_callers_scope_once(
    store: MongoStore, clock: FakeClock
) -> None:
    order = replace(card_order("ord_1", "ORD-1", clock.now), scope="a")
    await store.orders.insert(order, None, clock.now + timedelta(hours=1))
    assert await store.orders.cancel("ORD-1", "b", clock.now) is None
    canceled = await store.orders.cancel("ORD-1", "a", clock.now)
    assert canceled is not None
    assert (canceled.status, canceled.canceled_at) == (OrderStatus.CANCELED, clock.now)
    assert await store.orders.cancel("ORD-1", "a", clock.now) is None
    assert await store.orders.cancel("ORD-9", None, clock.now) is None
    # The cancel queued the order's job again, due now (it announces the cancellation).
    assert await store.orders.due_for_processing(clock.now, 10) == [("ord_1", clock.now)]


async def test_a_capture_answers_the_order_of_the_callers_scope_when_numbers_repeat(
    store: MongoStore, clock: FakeClock
) -> None:
    """Order numbers are unique per scope: the order read back after the capture is the
    caller's, not another client's of the same number."""
    for order_id, scope in (("ord_a", "a"), ("ord_b", "b")):
        order = card_order(order_id, "ORD-1", clock.now)
        held = replace(order, scope=scope, status=OrderStatus.AUTHORIZED)
        await store.orders.insert(held, None, clock.now + timedelta(hours=1))
    captured = await store.orders.capture("ORD-1", "b", 100, clock.now)
    assert captured is not None
    assert (captured.id, captured.status) == ("ord_b", OrderStatus.PAID)


async def test_refunds_never_pass_the_amount_and_each_refund_counts_once(
    store: MongoStore, clock: FakeClock
) -> None:
    order = card_order("ord_1", "ORD-1", clock.now)  # 10.00 USD
    await store.orders.insert(order, None, clock.now)
    add = store.orders.add_refund
    assert await add(order, "re_0", 500, clock.now, completes=False) is None  # not Paid yet
    await paid(store, clock)
    part = await add(order, "re_1", 400, clock.now, completes=False)
    assert part is not None
    assert (part.status, str(part.amount_refunded), part.refund_count) == (
        OrderStatus.PARTIALLY_REFUNDED,
        "4.00",
        1,
    )
    assert await add(order, "re_1", 400, clock.now, completes=False) is None  # a re-run
    assert await add(order, "re_2", 700, clock.now, completes=False) is None  # too much
    assert await add(order, "re_3", 500, clock.now, completes=True) is None  # not all that is left
    rest = await add(order, "re_4", 600, clock.now, completes=True)
    assert rest is not None
    assert (rest.status, str(rest.amount_refunded)) == (OrderStatus.REFUNDED, "10.00")
    assert await store.orders.refunded_by("ord_1", "re_1") == (rest, 400)
    assert await store.orders.refunded_by("ord_1", "re_2") == (rest, None)
    assert await store.orders.refunded_by("ord_9", "re_1") is None


async def test_a_job_is_due_at_its_time_claimed_once_and_finished_by_its_holder_only(
    store: MongoStore, clock: FakeClock
) -> None:
    due = clock.now + timedelta(seconds=60)
    await store.orders.insert(card_order("ord_1", "ORD-1", clock.now), REF, due)
    orders = store.orders
    assert await orders.due_for_processing(clock.now, 10) == []
    assert await orders.claim_processing("ord_1", "w1", clock.now, clock.now + LEASE) is None
    clock.advance(seconds=60)
    assert await orders.due_for_processing(clock.now, 10) == [("ord_1", due)]
    job = await orders.claim_processing("ord_1", "w1", clock.now, clock.now + LEASE)
    assert job is not None
    assert (job.order.order_number, job.attempts, job.took_over) == ("ORD-1", 1, False)
    assert await orders.claim_processing("ord_1", "w2", clock.now, clock.now + LEASE) is None
    assert await orders.due_for_processing(clock.now, 10) == []  # held
    assert not await orders.finish_processing("ord_1", "w2", clock.now)
    assert await orders.finish_processing("ord_1", "w1", clock.now)
    clock.advance(hours=1)
    assert await orders.due_for_processing(clock.now, 10) == []  # done for good
    assert await orders.claim_processing("ord_1", "w2", clock.now, clock.now + LEASE) is None


async def test_a_dead_holders_job_is_taken_over_after_its_lease_and_the_holder_is_locked_out(
    store: MongoStore, clock: FakeClock
) -> None:
    await store.orders.insert(card_order("ord_1", "ORD-1", clock.now), REF, clock.now)
    orders = store.orders
    assert await orders.claim_processing("ord_1", "dead", clock.now, clock.now + LEASE)
    clock.advance(seconds=LEASE.total_seconds())
    due_at = clock.now - LEASE  # when it fell due, not when its lease ran out
    assert await orders.due_for_processing(clock.now, 10) == [("ord_1", due_at)]
    job = await orders.claim_processing("ord_1", "w2", clock.now, clock.now + LEASE)
    assert job is not None
    assert (job.attempts, job.took_over) == (2, True)
    assert not await orders.finish_processing("ord_1", "dead", clock.now)
    assert await orders.finish_processing("ord_1", "w2", clock.now)


async def test_released_leases_are_due_at_once_and_claimed_without_a_takeover(
    store: MongoStore, clock: FakeClock
) -> None:
    for n in (1, 2):
        await store.orders.insert(card_order(f"ord_{n}", f"ORD-{n}", clock.now), None, clock.now)
        assert await store.orders.claim_processing(f"ord_{n}", "w1", clock.now, clock.now + LEASE)
    assert await store.orders.release_leases("w1", clock.now) == 2
    assert await store.orders.release_leases("w1", clock.now) == 0
    job = await store.orders.claim_processing("ord_1", "w2", clock.now, clock.now + LEASE)
    assert job is not None
    assert (job.attempts, job.took_over) == (2, False)
