"""Moving an order's money: what its job does before it announces anything, and what a
capture or a cancel does in its request (DESIGN §7). Used by the worker and the API alike.

An order's job decides, in this order, on the order as its claim found it:
    an authorization past `authorizedUntil` → expire it (Canceled, `expired`), then as Canceled
    Pending   → pay: a card's test outcome, or the wallet (`_pay_from_wallet`)
                → `payment.succeeded` / `payment.failed` / `payment.authorized` (manual)
    Canceled  → release a wallet hold it had → `order.canceled`
    captured  → capture the hold, release the rest → `payment.captured`

Every wallet movement goes through `WalletStore.apply` with entry ids derived from
(order, step), so a re-run after a crash applies nothing twice and completes what a
cut-short run began. Who may move an order's money is decided on the order first:
- the job claims the wallet step (`funds`: None → moving) only while the order is
  Pending, and a cancel of a Pending order is refused while it is moving; the outcome
  (reserved, charged, declined) is written before any event is saved, so a re-run
  announces what the first run decided;
- a capture (Authorized → Paid), a cancel (→ Canceled) and the expiry are each one
  conditional update of the order: exactly one wins, and only the winner's job moves
  money (the loser's update matched nothing, so it has no job to run).

Database round trips (wallet-paid orders; cards add none, saved cards 1 read): paying
2 conditional updates of the order + the movements (`store.mongo.wallets`: ~4 each);
a capture's, cancel's or expiry's job the movements (a re-run finds them in: 1 read each).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payflow.domain.cards import outcome_of
from payflow.domain.events import (
    Event,
    order_canceled_event,
    payment_captured_event,
    payment_event,
)
from payflow.domain.money import to_minor
from payflow.domain.orders import PAID_STATES, CaptureMethod, Funds, Order, OrderStatus
from payflow.domain.payment_methods import Outcome, is_known, outcome_for
from payflow.domain.refunds import Refund
from payflow.domain.wallets import (
    InsufficientBalance,
    Movement,
    capture,
    charge,
    refund,
    release,
    reserve,
)
from payflow.store.base import CustomerNotFound, Store

SUCCEEDED = Outcome(succeeded=True)
WALLET_SHORT = Outcome(False, "insufficient_funds", "The customer's balance is insufficient.")
UNUSABLE_METHOD = Outcome(
    False, "payment_method_unusable", "The saved payment method can no longer be used."
)
_MAX_ROUNDS = 4  # each round lost means a cancel, capture or another run decided first


@dataclass(frozen=True, slots=True)
class Decision:
    """What the job announces, and when the authorization it announces expires."""

    event: Event | None
    authorized_until: datetime | None = None


async def decide(store: Store, order: Order, now: datetime, hold_for: timedelta) -> Decision:
    """Move the order's money as its state asks, then what to announce (see the module)."""
    for _ in range(_MAX_ROUNDS):
        decision = await _decide_once(store, order, now, hold_for)
        if decision is not None:
            return decision
        reread = await store.orders.get(order.order_number, order.scope)  # numbers: per scope
        if reread is None:  # pragma: no cover - orders are never deleted
            return Decision(None)
        order = reread
    return Decision(None)  # the job's lease runs out and a later run decides


async def _decide_once(
    store: Store, order: Order, now: datetime, hold_for: timedelta
) -> Decision | None:
    """One look at the order; None when it changed under us (read it again)."""
    if _expired(order, now):
        expired = await store.orders.expire(order.id, now)
        if expired is None:
            return None
        order = expired
    if order.status is OrderStatus.PENDING:
        outcome = await _pay(store, order, now)
        if outcome is None:
            return None
        authorize = outcome.succeeded and order.capture_method is CaptureMethod.MANUAL
        event = payment_event(order, outcome, now, authorize=authorize)
        return Decision(event, now + hold_for if authorize else None)
    if order.status is OrderStatus.AUTHORIZED and order.authorized_until is None:
        # A re-run after the first run's webhook moved the order: its expiry is not set yet.
        return Decision(payment_event(order, SUCCEEDED, now, authorize=True), now + hold_for)
    if order.status is OrderStatus.CANCELED:
        await release_hold(store, order, now)
        return Decision(order_canceled_event(order, now))
    if order.captured_minor is not None:
        await capture_hold(store, order, now)
        return Decision(payment_captured_event(order, now))
    return Decision(None)


def _expired(order: Order, now: datetime) -> bool:
    return (
        order.authorized_until is not None
        and now >= order.authorized_until
        and order.status in (OrderStatus.PENDING, OrderStatus.AUTHORIZED)
    )


def settled_outcome(order: Order) -> Outcome | None:
    """The payment outcome an order's status records (a re-run's event), if any."""
    if order.status is OrderStatus.FAILED:
        return Outcome(False, order.failure_code, order.failure_message)
    if order.status in PAID_STATES and order.captured_minor is None:
        return SUCCEEDED
    return None


async def _pay(store: Store, order: Order, now: datetime) -> Outcome | None:
    if order.paid_from_wallet:
        return await _pay_from_wallet(store, order, now)
    if is_known(order.payment_method):
        return outcome_for(order.payment_method)
    saved = await store.payment_methods.get(order.payment_method)
    if saved is None or not saved.usable_by(order.customer):
        return UNUSABLE_METHOD  # detached (or gone) since the order was accepted
    return outcome_of(saved.card)


async def _pay_from_wallet(store: Store, order: Order, now: datetime) -> Outcome | None:
    """Reserve (manual) or charge (automatic) the order's amount; None when a cancel got
    in first. The step is claimed on the order before the wallet is touched."""
    if order.funds is None:
        claimed = await store.orders.mark_funds(order.id, None, Funds.MOVING, now)
        if claimed is None:
            return None
        order = claimed
    if order.funds is Funds.MOVING:
        try:
            await _apply(store, order, _payment_movements(order), now)
            outcome = (
                Funds.RESERVED if order.capture_method is CaptureMethod.MANUAL else Funds.CHARGED
            )
        except (InsufficientBalance, CustomerNotFound):
            outcome = Funds.DECLINED
        marked = await store.orders.mark_funds(order.id, Funds.MOVING, outcome, now)
        if marked is None:
            return None  # another run of this job wrote the outcome: read it
        order = marked
    return WALLET_SHORT if order.funds is Funds.DECLINED else SUCCEEDED


def _payment_movements(order: Order) -> list[Movement]:
    minor = to_minor(order.amount, order.currency)
    if order.capture_method is CaptureMethod.MANUAL:
        return [reserve(order.id, order.order_number, order.currency, minor)]
    return charge(order.id, order.order_number, order.currency, minor)


async def capture_hold(store: Store, order: Order, now: datetime) -> None:
    """Take a captured order's hold from the wallet and give back the rest (re-runnable)."""
    if order.captured_minor is None or not _holds(order):
        return
    held = to_minor(order.amount, order.currency)
    movements = capture(order.id, order.order_number, order.currency, order.captured_minor, held)
    await _apply(store, order, movements, now)


async def release_hold(store: Store, order: Order, now: datetime) -> None:
    """Give a canceled (or expired) order's hold back to the wallet (re-runnable)."""
    if not _holds(order):
        return
    held = to_minor(order.amount, order.currency)
    await _apply(store, order, [release(order.id, order.order_number, order.currency, held)], now)


def _holds(order: Order) -> bool:
    return order.paid_from_wallet and order.funds is Funds.RESERVED


async def _apply(store: Store, order: Order, movements: list[Movement], now: datetime) -> None:
    if order.customer is not None:  # always, for a wallet-paid order
        await store.wallets.apply(order.customer, movements, now)


async def refund_to_wallet(store: Store, given_back: Refund, now: datetime) -> None:
    """Credit a refund of a wallet-paid order to the wallet, once per refund (re-runnable)."""
    order = await store.orders.get(given_back.order_number, given_back.scope)
    if order is None or not order.paid_from_wallet:
        return
    minor = to_minor(given_back.amount, given_back.currency)
    movement = refund(order.id, order.order_number, given_back.id, order.currency, minor)
    await _apply(store, order, [movement], now)
