"""What payflow needs from storage, as protocols; `store.mongo` is the one implementation.

Every method is one atomic single-document operation (no multi-document
transactions: neither the embedded server's defaults nor mongomock offer them), and
every id is deterministic or chosen before the write, so re-running a step after a
crash is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from payflow.domain.customers import Customer
from payflow.domain.deliveries import DeliveryState
from payflow.domain.endpoint_health import Health
from payflow.domain.endpoints import RegisteredEndpoint
from payflow.domain.faults import FaultRule
from payflow.domain.idempotency_keys import KeyState
from payflow.domain.orders import Funds, Order, OrderStatus
from payflow.domain.refunds import Refund
from payflow.domain.saved_methods import SavedPaymentMethod
from payflow.domain.wallets import BalanceTransaction, Movement

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryState",
    "DeliveryStore",
    "EndpointStore",
    "EventStore",
    "IdempotencyRecord",
    "IdempotencyRef",
    "IdempotencyStore",
    "InvalidCursor",
    "Job",
    "ListPage",
    "OrderNumberTaken",
    "OrderStore",
    "OrderWithRef",
    "PaymentApplied",
    "PaymentStore",
    "Receipt",
    "RefundJob",
    "RefundStore",
    "Store",
    "StoreUnavailable",
    "StoredEvent",
    "StoredResponse",
]


# The one scope of every order and idempotency key when API keys are off.
GLOBAL_SCOPE = "global"


class StoreUnavailable(Exception):
    """The database cannot be reached (no server selected, connection lost).

    Every store method raises this, never its driver's own errors, for an outage: callers
    (the problem mapping's 503, the worker) stay free of the driver. Nothing is known to
    have changed, so the step may be retried as a whole.
    """


class InvalidCursor(ValueError):
    """A `cursor` query parameter that payflow did not issue."""


class OrderNumberTaken(Exception):
    """A unique index refused an insert: `orderNumber`'s, or `_id`'s (a create's id comes
    from its key: `domain.orders.keyed_order_id`)."""


@dataclass(frozen=True, slots=True)
class IdempotencyRef:
    """Which (scope, key, fingerprint) created an order: lets a takeover adopt it."""

    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response exactly as first sent: replays return these bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class OrderWithRef:
    """An order with the key that created it and the answer kept for that key's replays."""

    order: Order
    ref: IdempotencyRef | None
    response: StoredResponse | None


@dataclass(frozen=True, slots=True)
class KeptUse:
    """A key's use kept on the result it created (a create's order), which is the key's
    record too: the one insert that makes the result claims the key (`idempotency`)."""

    fingerprint: str
    response: StoredResponse
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class KeyUses:
    """What a key's results say: its live use, or the generation a fresh use takes (each
    generation, one id: a key used again after its retention makes a new result)."""

    generation: int
    live: KeptUse | None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    state: KeyState
    lease_token: str
    lease_expires_at: datetime
    expires_at: datetime
    response: StoredResponse | None = None
    # The order whose document will carry the response (a create): the record is completed
    # as soon as that order exists with this key, without a write of its own.
    result_order: str | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    orders: Sequence[Order]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PaymentApplied:
    """Result of the conditional Pending → Paid/Failed update.

    `order` is the order as found when the update did not apply (to say why); it may be
    left out when it did (the MongoDB store skips that read)."""

    applied: bool
    order: Order | None = None
    applied_event_key: str | None = None
    order_id: str | None = None  # the order the event was matched to, if one was
    ambiguous: bool = False  # an orderNumber alone named orders of several scopes


@dataclass(frozen=True, slots=True)
class Job:
    """An order's payment job, claimed under a lease; `attempts` counts this one."""

    order: Order
    attempts: int
    took_over: bool


@dataclass(frozen=True, slots=True)
class RefundJob:
    """A refund's event job, claimed under a lease; `attempts` counts this one."""

    refund: Refund
    attempts: int
    took_over: bool


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at delivering a webhook, as logged on the delivery."""

    at: datetime
    number: int
    status_code: int | None
    latency_ms: float
    error: str | None = None
    response_excerpt: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one endpoint."""

    id: str
    event_id: str
    event_type: str
    order_number: str
    endpoint_id: str
    url: str
    body: bytes
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None = None
    took_over: bool = False
    log: Sequence[Attempt] = ()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    type: str
    order_number: str
    created_at: datetime
    body: bytes


@dataclass(slots=True)
class Receipt:
    """One webhook received, valid or not: the audit trail in `payments`."""

    id: str
    received_at: datetime
    outcome: str
    event_key: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    order_number: str | None = None
    scheme: str | None = None
    detail: str | None = None
    order_id: str | None = None  # the order it matched: order numbers are unique per scope
    extra: dict[str, Any] = field(default_factory=dict)


class IdempotencyStore(Protocol):
    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert `record` unless (scope, key) exists; return the existing record, or None."""

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        """The key's own record, if it has one (a read)."""

    async def key_uses(self, scope: str, key: str, now: datetime) -> KeyUses:
        """The key's live use kept on the order a create made with it (`OrderStore.key_uses`)."""

    async def replace_if_token(self, expected_token: str, record: IdempotencyRecord) -> bool:
        """Compare-and-set on the lease token: take over a dead holder's or an expired record."""

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> bool:
        """Store the response if we still hold the lease."""

    async def flush_journal(self) -> None:
        """Make the flow's writes durable when its result already carries the response."""

    async def release(self, record: IdempotencyRecord) -> None:
        """Forget the key (after a 5xx) so the retry executes again."""


class OrderStore(Protocol):
    async def insert(
        self,
        order: Order,
        ref: IdempotencyRef | None,
        due_at: datetime,
        response: StoredResponse | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        """Insert the order with its processing job queued, durably; raise `OrderNumberTaken`.

        `response`: the create's answer, kept with `ref` for replays of the key until
        `expires_at` (the key's retention)."""

    async def key_uses(self, scope: str, key: str, now: datetime) -> KeyUses:
        """The order `key` created in `scope` whose retention is not over at `now`, if any
        (`domain.orders.keyed_order_id`: one read by `_id`, more only past a retention)."""

    async def get(self, order_number: str, scope: str | None = None) -> Order | None:
        """The order; with `scope`, only if that client created it (else None, as if absent)."""

    async def get_with_ref(self, order_number: str, scope: str) -> OrderWithRef | None:
        """The order `scope` has under that number, with the key that created it."""

    async def page(
        self, status: OrderStatus | None, limit: int, cursor: str | None, scope: str | None = None
    ) -> ListPage: ...

    async def cancel(
        self, order_number: str, scope: str | None, now: datetime, reason: str | None = None
    ) -> Order | None:
        """Pending or Authorized → Canceled with its job queued, in one conditional update
        (a Pending order whose job is moving wallet money is not cancelable).

        None when no such order is cancelable: absent (for this scope) or already decided.
        """

    async def capture(
        self, order_number: str, scope: str | None, captured_minor: int, now: datetime
    ) -> Order | None:
        """Authorized → Paid, `captured_minor` taken, its job queued: one conditional
        update. None when no such order is Authorized."""

    async def expire(self, order_id: str, now: datetime) -> Order | None:
        """An authorization past its `authorizedUntil` → Canceled (`expired`); None when a
        capture or cancel decided it first."""

    async def mark_funds(
        self, order_id: str, expected: Funds | None, funds: Funds, now: datetime
    ) -> Order | None:
        """Compare-and-set of a wallet-paid order's `funds` (None expected: a Pending
        order whose job has not started moving money)."""

    async def schedule_expiry(self, order_id: str, owner: str, until: datetime) -> bool:
        """Queue the held job again for `until`, when the authorization expires."""

    async def add_refund(
        self, order: Order, refund_id: str, amount_minor: int, now: datetime, *, completes: bool
    ) -> Order | None:
        """Count a refund on a Paid/PartiallyRefunded order in one conditional update.

        `completes`: only if it is exactly what is left (→ Refunded); otherwise only if
        something is left after it (→ PartiallyRefunded). None when that does not hold
        now, or when `refund_id` was counted already.
        """

    async def refunded_by(self, order_id: str, refund_id: str) -> tuple[Order, int | None] | None:
        """The order as it is, and the minor units `refund_id` took from it, if it did."""

    async def apply_payment(
        self,
        order_number: str,
        currency: str,
        amount_minor: int,
        target: OrderStatus,
        event_key: str,
        now: datetime,
        failure_code: str | None,
        failure_message: str | None,
        order_id: str | None = None,
    ) -> PaymentApplied:
        """Pending → target if amount and currency match, atomically; report the order as it is.

        The order is `order_id` (with that number), else the one order with that number:
        a number several scopes use matches none (`ambiguous`)."""

    async def claim_processing(
        self, order_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        """Take the order's job if it is due (or its lease expired); None if someone else has it."""

    async def finish_processing(self, order_id: str, owner: str, now: datetime) -> bool: ...

    async def due_for_processing(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Ids and due times of queued jobs due by `now`, and of jobs whose lease expired."""

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Hand back this process's unfinished jobs so anyone can take them at once."""


class RefundStore(Protocol):
    async def create(self, refund: Refund) -> Refund:
        """Insert the refund with its event job due now, once; return it as first stored."""

    async def get(self, refund_id: str, order_id: str) -> Refund | None: ...

    async def for_order(self, order_id: str, limit: int) -> list[Refund]:
        """The order's refunds, oldest first."""

    async def claim_processing(
        self, refund_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> RefundJob | None: ...

    async def finish_processing(self, refund_id: str, owner: str, now: datetime) -> bool: ...

    async def due_for_processing(self, now: datetime, limit: int) -> list[tuple[str, datetime]]: ...

    async def release_leases(self, owner: str, now: datetime) -> int: ...


class EventStore(Protocol):
    async def save(
        self,
        event_id: str,
        body: bytes,
        event_type: str,
        order_number: str,
        created_at: datetime,
        scope: str | None = None,
    ) -> bytes:
        """Record an emitted event once; return the body first stored under this id.

        `scope` is the client whose order it is about: with API keys on, only that
        client sees the event.
        """

    async def get(self, event_id: str, scope: str | None = None) -> StoredEvent | None: ...

    async def page(
        self,
        event_type: str | None,
        order_number: str | None,
        limit: int,
        cursor: str | None,
        scope: str | None = None,
    ) -> tuple[list[StoredEvent], str | None]: ...


class DeliveryStore(Protocol):
    async def insert_attempted(
        self,
        delivery: Delivery,
        attempt: Attempt,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool: ...

    async def claim(
        self, delivery_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Delivery | None: ...

    async def record_attempt(
        self,
        delivery_id: str,
        owner: str,
        attempt: Attempt,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool: ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def for_event(self, event_id: str) -> list[Delivery]: ...

    async def redeliver(self, delivery_id: str, now: datetime) -> Delivery | None: ...

    async def insert_waiting(self, delivery: Delivery) -> bool:
        """Record a delivery without an attempt, due at `next_attempt_at` (None: parked
        behind its endpoint's circuit); False if it exists."""

    async def park(self, delivery_id: str, owner: str, now: datetime) -> bool:
        """Hand a leased delivery back without an attempt, parked behind its circuit."""

    async def claim_oldest_parked(
        self, endpoint_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Delivery | None:
        """Lease the endpoint's parked delivery of the oldest event, if any."""

    async def unpark(self, endpoint_ids: Sequence[str], now: datetime) -> int:
        """Make the parked deliveries of these endpoints due now; how many."""

    async def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]: ...

    async def release_leases(self, owner: str, now: datetime) -> int: ...

    async def for_endpoint(
        self, endpoint_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        """The endpoint's deliveries, newest first, and the cursor of the next page."""


class EndpointStore(Protocol):
    async def insert(self, endpoint: RegisteredEndpoint) -> None: ...

    async def get(self, endpoint_id: str) -> RegisteredEndpoint | None: ...

    async def all(self, limit: int) -> list[RegisteredEndpoint]:
        """Registered endpoints, newest first."""

    async def count(self) -> int: ...

    async def replace(self, endpoint: RegisteredEndpoint) -> bool:
        """Store `endpoint` if the stored one is still at `endpoint.version - 1` (CAS)."""

    async def delete(self, endpoint_id: str) -> bool: ...

    async def health(self, endpoint_id: str) -> Health | None:
        """The endpoint's health (registered or built-in); None if there is no such one."""

    async def change_health(
        self,
        endpoint_id: str,
        step: Callable[[Health], Health | None],
        seen: Health | None = None,
    ) -> tuple[Health, Health] | None:
        """Apply `step` under a compare-and-set on `Health.version` (re-read after a lost
        race, starting from `seen` if given); (before, after), or None when `step` returns
        None or the endpoint is gone."""

    async def built_in_health(self) -> Health:
        """The built-in endpoint's health, its document made on first use."""


class ClockStore(Protocol):
    """The test clock's frozen time, shared by every process on the database."""

    async def start(self, at: datetime) -> datetime:
        """The stored time; `at` becomes it when there is none yet."""

    async def read(self) -> datetime | None: ...

    async def advance(self, milliseconds: int) -> datetime:
        """Add `milliseconds` atomically; the time after it."""


class PaymentStore(Protocol):
    async def record(self, receipt: Receipt) -> bool:
        """Insert the receipt; False if one with its id is there already."""

    async def for_order(self, order: Order, limit: int) -> list[Receipt]:
        """Receipts that matched `order`, and those naming its number that matched none."""

    async def seen(self, event_key: str) -> bool:
        """Whether an earlier receipt of this event was applied."""


class FaultStore(Protocol):
    async def insert(self, rule: FaultRule) -> None:
        """Insert the rule; one with its id already there is left as it is."""

    async def all(self, limit: int) -> list[FaultRule]:
        """The rules, oldest first (the order they are asked in)."""

    async def count(self) -> int: ...

    async def delete(self, rule_id: str) -> bool: ...

    async def fire(self, rule: FaultRule) -> bool:
        """Count one firing of `rule`; False if it is gone or its `count` has run out
        (a counted rule's last firing goes to one process only)."""


class CustomerNotFound(LookupError):
    """A wallet movement for a customer that does not exist."""


class PaymentMethodNotFound(LookupError):
    """No payment method with that id (for that client)."""


class PaymentMethodDuplicate(Exception):
    """The customer already has an attached card with that fingerprint: `existing` is it."""

    def __init__(self, existing: str) -> None:
        self.existing = existing
        super().__init__(f"the card is already attached as {existing}")


class PaymentMethodDetached(Exception):
    """The method was detached: it can be neither attached again nor used."""


class PaymentMethodAttached(Exception):
    """The method is attached to another customer: `customer` is that one."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(f"the payment method is attached to {customer}")


@dataclass(frozen=True, slots=True)
class Moved:
    """The ledger entries of one wallet step, and whether an earlier run had applied any."""

    entries: Sequence[BalanceTransaction]
    rerun: bool


class CustomerStore(Protocol):
    async def insert(self, customer: Customer, opening: Sequence[Movement]) -> Customer:
        """Insert the customer, then credit `opening` (its opening balances); a re-run
        returns the customer first stored, credited once."""

    async def get(self, customer_id: str, scope: str | None = None) -> Customer | None: ...

    async def page(
        self, limit: int, cursor: str | None, scope: str | None = None
    ) -> tuple[list[Customer], str | None]:
        """Customers newest first, and the cursor of the next page."""


class WalletStore(Protocol):
    """Money movements: each one insert of its ledger entry, keyed by its entry id, in
    the one place after the entry before it (store/mongo/wallets.py); a re-run is a
    no-op. `InsufficientBalance` when available (or reserved) would go below zero."""

    async def apply(self, customer_id: str, movements: Sequence[Movement], now: datetime) -> Moved:
        """Apply `movements` in turn, each once (a step cut short is completed by its
        re-run); raises `InsufficientBalance` (entries before it stay), `CustomerNotFound`."""

    async def transactions(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[BalanceTransaction], str | None]:
        """The customer's ledger, newest first, and the cursor of the next page."""

    async def ledger_of(self, customer_id: str) -> list[BalanceTransaction]:
        """Every entry of the customer, oldest first (invariant checks, small wallets)."""


class PaymentMethodStore(Protocol):
    async def insert(self, method: SavedPaymentMethod) -> SavedPaymentMethod:
        """Insert (attached when `method.customer` is set); a re-run returns the first
        stored; `PaymentMethodDuplicate` when the customer has the card already."""

    async def get(self, method_id: str, scope: str | None = None) -> SavedPaymentMethod | None: ...

    async def for_customer(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[SavedPaymentMethod], str | None]:
        """The methods attached to the customer, newest first, and the next page's cursor."""

    async def attach(
        self, method_id: str, customer_id: str, now: datetime, scope: str | None = None
    ) -> SavedPaymentMethod:
        """Attach (a no-op when already attached to that customer); raises
        `PaymentMethodNotFound`, `PaymentMethodDetached`, `PaymentMethodAttached`,
        `PaymentMethodDuplicate`."""

    async def detach(
        self, method_id: str, now: datetime, scope: str | None = None
    ) -> SavedPaymentMethod:
        """Detach for good; raises `PaymentMethodNotFound`, `PaymentMethodDetached`."""

    async def fingerprint_key(self) -> bytes:
        """This installation's card fingerprint key, made once and kept in the database."""


class Store(Protocol):
    """All collections, as the application holds them."""

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def orders(self) -> OrderStore: ...

    @property
    def events(self) -> EventStore: ...

    @property
    def deliveries(self) -> DeliveryStore: ...

    @property
    def payments(self) -> PaymentStore: ...

    @property
    def refunds(self) -> RefundStore: ...

    @property
    def endpoints(self) -> EndpointStore: ...

    @property
    def customers(self) -> CustomerStore: ...

    @property
    def wallets(self) -> WalletStore: ...

    @property
    def payment_methods(self) -> PaymentMethodStore: ...

    @property
    def faults(self) -> FaultStore: ...

    @property
    def clock(self) -> ClockStore: ...

    async def ensure_indexes(self) -> None: ...

    async def sync(self) -> None:
        """Return once every write this caller has had acknowledged is durable (a flush
        shared with concurrent callers)."""

    async def ping(self) -> None: ...
