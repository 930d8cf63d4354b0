"""Events (saved once per id, the first bytes win, paged newest first), receipts (one per
id, the audit trail oldest first, `seen` only for an applied event) and refunds (created
once per id, listed oldest first, each with a job that is claimed once)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from payflow.domain.refunds import Refund
from payflow.store.base import Receipt
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import FakeClock, card_order

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]
LEASE = timedelta(seconds=30)


async def test_an_event_is_saved_once_and_a_re_run_gets_the_first_bytes(
    store: MongoStore, clock: FakeClock
) -> None:
    first = b'{"id":"evt_1","type":"payment.succeeded","data":{"amount":1.50}}'
    again = b'{"id":"evt_1","type":"payment.succeeded","data":{"amount":1.5}}'
    save = store.events.save
    assert await save("evt_1", first, "payment.succeeded", "ORD-1", clock.now, "a") == first
    assert await save("evt_1", again, "payment.succeeded", "ORD-1", clock.now, "a") == first
    stored = await store.events.get("evt_1")
    assert stored is not None
    assert (stored.body, stored.type, stored.order_number, stored.created_at) == (
        first,
        "payment.succeeded",
        "ORD-1",
        clock.now,
    )
    assert await store.events.get("evt_1", scope="b") is None


async def test_events_page_newest_first_by_type_order_and_scope(
    store: MongoStore, clock: FakeClock
) -> None:
    kinds = ["payment.succeeded", "payment.failed", "payment.succeeded", "order.canceled"]
    for n, kind in enumerate(kinds):
        at = clock.now + timedelta(seconds=n)
        await store.events.save(f"evt_{n}", b"{}", kind, f"ORD-{n % 2}", at, "a" if n else "b")
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(2):
        events, cursor = await store.events.page(None, None, 2, cursor)
        ids += [e.id for e in events]
    assert (ids, cursor) == (["evt_3", "evt_2", "evt_1", "evt_0"], None)
    succeeded, _ = await store.events.page("payment.succeeded", None, 10, None)
    assert [e.id for e in succeeded] == ["evt_2", "evt_0"]
    of_order, _ = await store.events.page(None, "ORD-1", 10, None)
    assert [e.id for e in of_order] == ["evt_3", "evt_1"]
    of_scope, _ = await store.events.page(None, None, 10, None, scope="b")
    assert [e.id for e in of_scope] == ["evt_0"]


async def test_a_receipt_is_written_once_and_the_trail_reads_oldest_first(
    store: MongoStore, clock: FakeClock
) -> None:
    applied = Receipt("rcp_1", clock.now, "applied", "key_1", "evt_1", "payment.succeeded")
    applied.order_number, applied.scheme = "ORD-1", "payflow"
    duplicate = Receipt("rcp_2", clock.now + timedelta(seconds=1), "duplicate", "key_1")
    duplicate.order_number = "ORD-1"
    assert await store.payments.record(duplicate)
    assert await store.payments.record(applied)
    assert not await store.payments.record(applied)
    trail = await store.payments.for_order(card_order("ord_1", "ORD-1", clock.now), 10)
    assert [(r.id, r.outcome) for r in trail] == [("rcp_1", "applied"), ("rcp_2", "duplicate")]
    assert trail[0] == applied
    assert await store.payments.seen("key_1")
    await store.payments.record(Receipt("rcp_3", clock.now, "rejected", "key_2"))
    assert not await store.payments.seen("key_2")  # only an applied event counts as seen


def refund(n: int, clock: FakeClock, amount: str = "2.50") -> Refund:
    at = clock.now + timedelta(seconds=n)
    return Refund(f"re_{n}", "ord_1", "ORD-1", Decimal(amount), "USD", at, "duplicate")


async def test_a_refund_is_created_once_and_its_job_claimed_once(
    store: MongoStore, clock: FakeClock
) -> None:
    first, zero = refund(1, clock), refund(0, clock)
    assert await store.refunds.create(first) == first
    assert await store.refunds.create(refund(1, clock, "9.99")) == first  # a re-run
    await store.refunds.create(zero)
    assert await store.refunds.get("re_1", "ord_1") == first
    assert await store.refunds.get("re_1", "ord_2") is None
    assert [r.id for r in await store.refunds.for_order("ord_1", 10)] == ["re_0", "re_1"]

    clock.advance(seconds=1)
    due = await store.refunds.due_for_processing(clock.now, 10)
    assert sorted(due) == [("re_0", zero.created_at), ("re_1", first.created_at)]
    job = await store.refunds.claim_processing("re_1", "w1", clock.now, clock.now + LEASE)
    assert job is not None
    assert (job.refund, job.attempts, job.took_over) == (first, 1, False)
    assert await store.refunds.claim_processing("re_1", "w2", clock.now, clock.now + LEASE) is None
    assert await store.refunds.release_leases("w1", clock.now) == 1
    again = await store.refunds.claim_processing("re_1", "w2", clock.now, clock.now + LEASE)
    assert again is not None
    assert not await store.refunds.finish_processing("re_1", "w1", clock.now)
    assert await store.refunds.finish_processing("re_1", "w2", clock.now)
    assert [r for r, _ in await store.refunds.due_for_processing(clock.now, 10)] == ["re_0"]
