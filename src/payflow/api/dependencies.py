"""Dependency providers: what a controller may ask for, one small part of the runtime each.

A controller declares the names it uses (`dependencies = provide("orders", "queue")`),
and its handlers take them by name with the matching type below (`orders: Orders`), so
no handler holds the whole `Runtime`. `find_order` (`find_customer`) is the one place an
order (a customer) that is missing or another client's becomes the `not-found` problem.

The two hottest handlers (`POST /api/orders`, which also answers every replay, and the
webhook receiver) take their parts as one dependency instead (`CreateOrderParts`,
`ReceiverParts`): Litestar resolves the dependencies of one level concurrently, in an
anyio task group with a task each, and for these cheap look-ups that was a fifth of the
process's time per create (py-spy, creates on mongod; litestar-org/litestar#4563).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeAlias, TypeVar

from litestar import Request
from litestar.di import Dependency, Provide
from litestar.params import SkipValidationMarker

from payflow.api.idempotent import IdempotentPost, provide_idempotent_post
from payflow.config import Settings
from payflow.domain.customers import Customer
from payflow.domain.endpoints import EndpointRegistry
from payflow.domain.jobs import WorkScheduler
from payflow.domain.orders import Order
from payflow.errors import NotFound
from payflow.faults.cache import CachedRules
from payflow.faults.middleware import cached_rules
from payflow.lifespan import Runtime, RuntimeDep
from payflow.metrics import Metrics
from payflow.store.base import (
    CustomerStore,
    DeliveryStore,
    EndpointStore,
    EventStore,
    FaultStore,
    OrderStore,
    PaymentMethodStore,
    PaymentStore,
    RefundStore,
    Store,
    WalletStore,
)
from payflow.testclock import TestClock

T = TypeVar("T")
# Injected by parameter name; not validated: the values are the runtime's own (and the
# store protocols are not runtime-checkable).
Injected: TypeAlias = Annotated[T, Dependency(kind="named"), SkipValidationMarker()]
# The types handlers annotate their dependencies with.
Orders = Injected[OrderStore]
Refunds = Injected[RefundStore]
Events = Injected[EventStore]
Deliveries = Injected[DeliveryStore]
Endpoints = Injected[EndpointStore]
Payments = Injected[PaymentStore]
FaultRules = Injected[FaultStore]
FaultCache = Injected[CachedRules]
Database = Injected[Store]
Queue = Injected[WorkScheduler]
Directory = Injected[EndpointRegistry]
MetricsDep = Injected[Metrics]
SettingsDep = Injected[Settings]
Now = Injected[datetime]
DataScope = Injected[str | None]
ProcessingDelay = Injected[timedelta]
WorkerAlive = Injected[bool]
Post = Injected[IdempotentPost]
TestClockDep = Injected[TestClock | None]  # None unless `[clock] mode = "test"`
Customers = Injected[CustomerStore]
Wallets = Injected[WalletStore]
PaymentMethods = Injected[PaymentMethodStore]


@dataclass(frozen=True, slots=True)
class CreateOrderParts:
    """What `POST /api/orders` uses, as one dependency (see the module's docstring)."""

    post: IdempotentPost
    orders: OrderStore
    queue: WorkScheduler
    metrics: Metrics
    processing_delay: timedelta
    database: Store
    data_scope: str | None


@dataclass(frozen=True, slots=True)
class ReceiverParts:
    """What the webhook receiver uses, as one dependency (see the module's docstring)."""

    orders: OrderStore
    payments: PaymentStore
    metrics: Metrics
    settings: Settings
    now: datetime


CreateOrderDeps = Injected[CreateOrderParts]
ReceiverDeps = Injected[ReceiverParts]


def _create_order_parts(request: Request[Any, Any, Any], runtime: RuntimeDep) -> CreateOrderParts:
    return CreateOrderParts(
        post=provide_idempotent_post(request, runtime),
        orders=runtime.store.orders,
        queue=runtime.queue,
        metrics=runtime.metrics,
        processing_delay=runtime.processing_delay,
        database=runtime.store,
        data_scope=runtime.data_scope(request),
    )


def _receiver_parts(runtime: RuntimeDep) -> ReceiverParts:
    return ReceiverParts(
        orders=runtime.store.orders,
        payments=runtime.store.payments,
        metrics=runtime.metrics,
        settings=runtime.settings,
        now=runtime.clock(),
    )


def _data_scope(request: Request[Any, Any, Any], runtime: RuntimeDep) -> str | None:
    """Whose data this request may see: its API key's, or everyone's (None) without keys."""
    return runtime.data_scope(request)


def _fault_cache(request: Request[Any, Any, Any]) -> CachedRules:
    """This process's copy of the fault rules, which a change here must invalidate."""
    return cached_rules(request.app)


def _part(read: Callable[[Runtime], Any]) -> Callable[[Runtime], Any]:
    """A provider of one part of the runtime (Litestar reads the parameter's annotation)."""

    def provider(runtime: RuntimeDep) -> Any:
        return read(runtime)

    return provider


_PROVIDERS: dict[str, Callable[..., Any]] = {
    "orders": _part(lambda runtime: runtime.store.orders),
    "refunds": _part(lambda runtime: runtime.store.refunds),
    "events": _part(lambda runtime: runtime.store.events),
    "deliveries": _part(lambda runtime: runtime.store.deliveries),
    "endpoints": _part(lambda runtime: runtime.store.endpoints),
    "payments": _part(lambda runtime: runtime.store.payments),
    "faults": _part(lambda runtime: runtime.store.faults),
    "database": _part(lambda runtime: runtime.store),
    "queue": _part(lambda runtime: runtime.queue),
    "directory": _part(lambda runtime: runtime.directory),
    "metrics": _part(lambda runtime: runtime.metrics),
    "settings": _part(lambda runtime: runtime.settings),
    "now": _part(lambda runtime: runtime.clock()),
    "processing_delay": _part(lambda runtime: runtime.processing_delay),
    "worker_alive": _part(lambda runtime: runtime.worker_alive),
    "data_scope": _data_scope,
    "fault_cache": _fault_cache,
    "post": provide_idempotent_post,
    "test_clock": _part(lambda runtime: runtime.test_clock),
    "customers": _part(lambda runtime: runtime.store.customers),
    "wallets": _part(lambda runtime: runtime.store.wallets),
    "payment_methods": _part(lambda runtime: runtime.store.payment_methods),
    "create_order_parts": _create_order_parts,
    "receiver_parts": _receiver_parts,
}


def provide(*names: str) -> dict[str, Provide]:
    """A controller's `dependencies`: the named parts of the runtime it uses."""
    return {name: Provide(_PROVIDERS[name], sync_to_thread=False) for name in names}


async def find_order(orders: OrderStore, order_number: str, data_scope: str | None) -> Order:
    """The order this client may see, or the `not-found` problem."""
    return found(
        await orders.get(order_number, data_scope), f"No order with orderNumber {order_number!r}."
    )


async def find_customer(
    customers: CustomerStore, customer_id: str, data_scope: str | None
) -> Customer:
    """The customer this client may see, or the `not-found` problem."""
    return found(
        await customers.get(customer_id, data_scope), f"No customer with id {customer_id!r}."
    )


def found(value: T | None, missing: str) -> T:
    """`value`, or the `not-found` problem that says what is `missing`."""
    if value is None:
        raise NotFound(missing)
    return value
