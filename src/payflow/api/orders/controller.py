"""`/api/orders`: create (idempotent), list, fetch, audit trail, cancel (idempotent).

Database round trips of `POST /api/orders` with a fresh key: 2 reads at once and 1
journaled insert — look the key up where its use can be (its own record; the order whose
`_id` the key gives: `domain.orders.keyed_order_id`), then insert the order with its
payment job, the key, its fingerprint and the response for the key's replays. That one
document is the key's claim too (the unique `_id` lets one request of a key win), so
accepting, enqueueing, answering and claiming cannot be split by a crash
(`idempotency.execute_keeping`). The reads and the insert are batched with concurrent
requests' (`store.mongo.batching`), and one journal flush covers a batch of inserts:
under load each is a fraction of a round trip. A replay is the 2 reads, no write. An
orderNumber another key took costs a claim and a journaled update more (the 409 is kept
for the key's replays). `GET` paths are 1 (the audit trail 2).

Canceling is one conditional update (Pending → Canceled), so it and the worker's
payment job cannot both win: the job finds the order Canceled and announces the
cancellation (`order.canceled`) instead of a payment, and a payment event that was
already on its way is `ignored` by the receiver, which only moves Pending orders.
The same update queues the announcing job, so a crash cannot lose the event. Round
trips: 3 journaled writes — claim the key, the conditional update, store the response;
+1 read when the order is not Pending (to say why). A replay is 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter

from payflow import idempotency
from payflow.api.body import convert_body
from payflow.api.dependencies import (
    CreateOrderDeps,
    Database,
    DataScope,
    Orders,
    Payments,
    Post,
    Queue,
    find_order,
    provide,
)
from payflow.api.idempotent import IdempotentPost, idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.orders.docs import (
    CANCELED_EXAMPLE,
    CAPTURED_EXAMPLE,
    CancelOrderOperation,
    CaptureOrderOperation,
    CreateOrderOperation,
)
from payflow.api.orders.schemas import (
    AuditEntryOut,
    CancelOrderRequest,
    CaptureOrderRequest,
    CreateOrderRequest,
    OrderOut,
    capture_amount,
    created,
    order_out,
    parse_create_order,
)
from payflow.api.paging import next_page_link, read_page
from payflow.api.problems import problems
from payflow.api.responses import ExactJSON
from payflow.domain.jobs import JobKind, WorkScheduler
from payflow.domain.money import to_minor
from payflow.domain.orders import Order, OrderStatus, keyed_order_id
from payflow.domain.saved_methods import is_saved_method_id
from payflow.errors import (
    OrderExists,
    OrderNotCancelable,
    OrderNotCapturable,
    PayflowError,
    ValidationFailed,
)
from payflow.settlement import capture_hold, release_hold
from payflow.store.base import IdempotencyRef, OrderNumberTaken, OrderStore, Store, StoredResponse
from payflow.timefmt import isoformat

ROUTE = "/api/orders"

log = structlog.get_logger(__name__)


class OrdersController(Controller):
    path = ROUTE
    tags = ["orders"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide(
        "create_order_parts",
        "orders",
        "payments",
        "queue",
        "metrics",
        "data_scope",
        "processing_delay",
        "post",
        "database",
    )

    @post(
        "/",
        status_code=201,
        summary="Create an order (idempotent)",
        responses={
            201: ResponseSpec(
                OrderOut, description="Created (or replayed)", generate_examples=False
            ),
            **idempotent_problems(),
        },
        operation_class=CreateOrderOperation,
        description=(
            "Requires an `Idempotency-Key`. A retry with the same key and body replays the first "
            "response byte for byte with `Idempotent-Replayed: true`."
        ),
    )
    async def create_order(self, create_order_parts: CreateOrderDeps) -> Response[bytes]:
        parts = create_order_parts  # one dependency: see api.dependencies
        post, orders, queue, metrics = parts.post, parts.orders, parts.queue, parts.metrics
        processing_delay, database, data_scope = (
            parts.processing_delay,
            parts.database,
            parts.data_scope,
        )
        payload = await post.json_object()
        order_in = parse_create_order(payload)
        await check_payer(database, order_in, data_scope)
        now = post.now
        due_at = now + (
            processing_delay
            if order_in.processing_delay_ms is None
            else timedelta(milliseconds=order_in.processing_delay_ms)
        )

        async def insert(
            order_id: str, ref: IdempotencyRef, expires_at: datetime
        ) -> StoredResponse | None:
            order = Order(
                id=order_id,
                order_number=order_in.order_number,
                amount=order_in.amount,
                currency=order_in.currency,
                status=OrderStatus.PENDING,
                payment_method=order_in.payment_method,
                created_at=now,
                updated_at=now,
                metadata=order_in.metadata,
                scope=ref.scope,
                customer=order_in.customer,
                capture_method=order_in.capture_method,
            )
            response = created(order)
            try:
                await orders.insert(order, ref, due_at, response, expires_at)
            except OrderNumberTaken:
                return None  # this key's order (a replay), or another key's number (409)
            queue.schedule(JobKind.ORDER.item(order.id), due_at)
            metrics.orders_created.inc()
            log.info("order_created", order_number=order.order_number, order_id=order.id)
            return response

        async def taken(ref: IdempotencyRef) -> StoredResponse:
            number = order_in.order_number
            existing = await orders.get_with_ref(number, ref.scope)
            if existing is not None and existing.ref == ref:
                # Made by this very request before (a holder that died, or a use of the key
                # whose retention is over): its result, never a conflict.
                metrics.orders_created.inc()
                log.info(
                    "order_created", order_number=number, order_id=existing.order.id, resumed=True
                )
                return existing.response or created(existing.order)
            raise OrderExists(f"An order with orderNumber {number!r} already exists.")

        return await post.respond_keeping(
            ROUTE, payload, lambda n: keyed_order_id(post.scope, post.key, n), insert, taken
        )

    @get(
        "/",
        summary="List orders, newest first (plain array; next page in the Link header)",
        responses=problems(400),
    )
    async def list_orders(
        self,
        orders: Orders,
        data_scope: DataScope,
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> ExactJSON[list[OrderOut]]:
        page = await read_page(orders.page(status, limit, cursor, data_scope))
        headers = next_page_link(
            ROUTE, page.next_cursor, limit, status=None if status is None else status.value
        )
        return ExactJSON([order_out(order) for order in page.orders], headers=headers)

    @get("/{order_number:str}", summary="Fetch one order", responses=problems(400, 404))
    async def get_order(
        self, orders: Orders, data_scope: DataScope, order_number: FromPath[str]
    ) -> OrderOut:
        return order_out(await find_order(orders, order_number, data_scope))

    @get(
        "/{order_number:str}/events",
        summary="The order's audit trail: every webhook received for it, oldest first",
        responses=problems(400, 404),
    )
    async def order_events(
        self,
        orders: Orders,
        payments: Payments,
        data_scope: DataScope,
        order_number: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 500,
    ) -> list[AuditEntryOut]:
        order = await find_order(orders, order_number, data_scope)
        receipts = await payments.for_order(order, limit)
        return [
            AuditEntryOut(
                id=r.id,
                received_at=isoformat(r.received_at),
                outcome=r.outcome,
                event_id=r.event_id,
                type=r.event_type,
                scheme=r.scheme,
                detail=r.detail,
            )
            for r in receipts
        ]

    @post(
        "/{order_number:str}/cancel",
        status_code=200,
        summary="Cancel a Pending or Authorized order (idempotent)",
        responses={
            200: example_response(OrderOut, "Canceled (or replayed)", canceled=CANCELED_EXAMPLE),
            **idempotent_problems(
                404,
                s409="order-not-cancelable: the order is neither Pending nor Authorized (or its "
                "payment is moving money); or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CancelOrderOperation,
        description=(
            "A Pending order's payment is then never made; an Authorized order's hold is "
            "released. `cancellationReason` is the body's `reason`, or requested_by_customer; "
            "`order.canceled` is sent to the webhook endpoints. Requires an `Idempotency-Key`."
        ),
    )
    async def cancel_order(
        self,
        post: Post,
        orders: Orders,
        queue: Queue,
        data_scope: DataScope,
        database: Database,
        order_number: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object(optional=True)
        request = convert_body(payload, CancelOrderRequest)

        def refuse(current: Order) -> OrderNotCancelable:
            return OrderNotCancelable(
                f"Order {order_number!r} is {current.status.value}; only a Pending or "
                "Authorized order can be canceled (and not while its payment is moving money)."
            )

        return await _move_order(
            post,
            orders,
            queue,
            data_scope,
            order_number,
            payload,
            "cancel",
            move=lambda: orders.cancel(order_number, data_scope, post.now, request.reason),
            mine=lambda current: current.status is OrderStatus.CANCELED,
            refuse=refuse,
            settle=lambda order: release_hold(database, order, post.now),
        )

    @post(
        "/{order_number:str}/capture",
        status_code=200,
        summary="Capture an Authorized order, in full or in part (idempotent)",
        responses={
            200: example_response(OrderOut, "Captured (or replayed)", captured=CAPTURED_EXAMPLE),
            **idempotent_problems(
                404,
                s409="order-not-capturable: the order is not Authorized (captured, canceled, "
                "expired, or never authorized); or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CaptureOrderOperation,
        description=(
            "Takes `amount` (default: all of `amountCapturable`) of an Authorized order, which "
            "becomes Paid; the rest of the hold goes back to the payer, and `payment.captured` "
            "is sent. One capture per order. Requires an `Idempotency-Key`."
        ),
    )
    async def capture_order(
        self,
        post: Post,
        orders: Orders,
        queue: Queue,
        data_scope: DataScope,
        database: Database,
        order_number: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object(optional=True)
        convert_body(payload, CaptureOrderRequest, exact=("amount",))
        current = await find_order(orders, order_number, data_scope)
        wanted = capture_amount(payload, current)

        minor = to_minor(current.amount, current.currency) if wanted is None else wanted

        def refuse(now_is: Order) -> OrderNotCapturable:
            return OrderNotCapturable(
                f"Order {order_number!r} is {now_is.status.value}; only an Authorized order "
                "can be captured, once."
            )

        return await _move_order(
            post,
            orders,
            queue,
            data_scope,
            order_number,
            payload,
            "capture",
            move=lambda: orders.capture(order_number, data_scope, minor, post.now),
            mine=lambda now_is: now_is.captured_minor == minor,
            refuse=refuse,
            settle=lambda order: capture_hold(database, order, post.now),
        )


async def _move_order(
    post: IdempotentPost,
    orders: OrderStore,
    queue: WorkScheduler,
    data_scope: str | None,
    order_number: str,
    payload: dict[str, Any],
    action: str,
    *,
    move: Callable[[], Awaitable[Order | None]],
    mine: Callable[[Order], bool],
    refuse: Callable[[Order], PayflowError],
    settle: Callable[[Order], Awaitable[None]],
) -> Response[bytes]:
    """A cancel or a capture: `move` is the one conditional update that decides it; then
    the money moves (`settle`) and the order's job is queued, which moves it again (a
    no-op) if this request dies, and announces it. A retry that took over a key whose
    holder died after its update finds the order moved as it asked (`mine`): 200."""

    async def handle(claim: idempotency.Claim) -> StoredResponse:
        order = await move()
        if order is None:
            current = await find_order(orders, order_number, data_scope)
            if not (claim.took_over and mine(current)):
                raise refuse(current)
            order = current
        await settle(order)
        queue.schedule(JobKind.ORDER.item(order.id), post.now)
        return stored_json(200, order_out(order))

    return await post.respond(f"{ROUTE}/{order_number}/{action}", payload, handle)


async def check_payer(database: Store, order_in: CreateOrderRequest, scope: str | None) -> None:
    """The customer must exist, and a saved method be usable by the order's customer (400).

    Round trips: 1 read each for a customer and a saved method named (none otherwise)."""
    errors: list[dict[str, str]] = []
    if (
        order_in.customer is not None
        and await database.customers.get(order_in.customer, scope) is None
    ):
        errors.append({"field": "customer", "message": "no such customer"})
    if is_saved_method_id(order_in.payment_method):
        saved = await database.payment_methods.get(order_in.payment_method, scope)
        if saved is None:
            errors.append({"field": "paymentMethod", "message": "no such payment method"})
        elif not saved.usable:
            errors.append({"field": "paymentMethod", "message": "the payment method is detached"})
        elif not saved.usable_by(order_in.customer):
            errors.append(
                {
                    "field": "paymentMethod",
                    "message": "the payment method belongs to another customer",
                }
            )
    if errors:
        raise ValidationFailed(errors)
