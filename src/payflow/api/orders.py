"""Orders endpoints: create (idempotent), list, fetch, audit trail.

Database round trips of `POST /api/orders` with a fresh key: 3 plus a shared journal
flush — look the key up (a read: misses), claim it (an insert on the unique key: the
atomic decision), insert the order with its payment job and the response for the key's
replays (one document, so accepting, enqueueing and answering cannot be split by a
crash); then wait for the journal flush that makes both durable before answering (group
commit: `store.mongo.journal`). No write completes the key record: it names the order,
and the order's existence completes it (`idempotency.SavedWithResult`). The look-up,
claim and insert are batched with concurrent requests' (`store.mongo.batching`), so
under load each is a fraction of a round trip. A replay is 2 reads (the record, then the
order that keeps the response), no write. `GET` paths are 1.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter

from payflow import idempotency
from payflow.api.docs import JSON, CreateOrderOperation, problems
from payflow.api.idempotent import KeyHeader, respond_once
from payflow.api.paging import next_page_link, read_page
from payflow.api.schemas import (
    AuditEntryOut,
    OrderOut,
    decode_json_object,
    order_out,
    parse_create_order,
)
from payflow.codec import encode
from payflow.domain.jobs import JobKind
from payflow.domain.orders import Order, OrderStatus, new_order_id
from payflow.errors import NotFound, OrderExists
from payflow.lifespan import Runtime, RuntimeDep
from payflow.store.base import IdempotencyRef, OrderNumberTaken, StoredResponse
from payflow.timefmt import isoformat

CREATE_ROUTE = "/api/orders"

log = structlog.get_logger(__name__)


def processing_delay(runtime: Runtime, override_ms: int | None) -> timedelta:
    """The order's own `processingDelayMs` when it has one, else the configured delay."""
    if override_ms is None:
        return runtime.processing_delay
    return timedelta(milliseconds=override_ms)


def created(order: Order) -> StoredResponse:
    return StoredResponse(
        201,
        {"content-type": JSON, "location": f"/api/orders/{order.order_number}"},
        encode(order_out(order)),
    )


class OrdersController(Controller):
    path = "/api/orders"
    tags = ["orders"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post(
        "/",
        status_code=201,
        summary="Create an order (idempotent)",
        responses={
            201: ResponseSpec(
                OrderOut, description="Created (or replayed)", generate_examples=False
            ),
            **problems(
                400,
                409,
                413,
                422,
                s400="validation-error, idempotency-key-missing or idempotency-key-invalid",
            ),
        },
        operation_class=CreateOrderOperation,
        description=(
            "Requires an `Idempotency-Key`. A retry with the same key and body replays the first "
            "response byte for byte with `Idempotent-Replayed: true`."
        ),
        response_headers=None,
    )
    async def create_order(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        idempotency_key: KeyHeader = None,
    ) -> Response[bytes]:
        key = idempotency.validate_key(request.headers.get("idempotency-key"))
        payload = decode_json_object(await request.body())
        order_in = parse_create_order(payload)
        now = runtime.clock()

        async def create(claim: idempotency.Claim) -> StoredResponse | idempotency.SavedWithResult:
            record = claim.record  # the order carries it, so a takeover knows its own order
            order = Order(
                id=new_order_id(),
                order_number=order_in.order_number,
                amount=order_in.amount,
                currency=order_in.currency,
                status=OrderStatus.PENDING,
                payment_method=order_in.payment_method,
                created_at=now,
                updated_at=now,
                metadata=order_in.metadata,
                scope=record.scope,
            )
            ref = IdempotencyRef(record.scope, record.key, record.fingerprint)
            due_at = now + processing_delay(runtime, order_in.processing_delay_ms)
            response = created(order)
            try:
                await runtime.store.orders.insert(order, ref, due_at, response)
            except OrderNumberTaken:
                existing = await runtime.store.orders.get_with_ref(order.order_number)
                if existing is not None and existing.ref == ref:
                    # A holder that died after inserting: its order is this request's result.
                    runtime.metrics.orders_created.inc()
                    log.info(
                        "order_created",
                        order_number=existing.order.order_number,
                        order_id=existing.order.id,
                        resumed=True,
                    )
                    if existing.response is None:  # inserted by a payflow that kept none
                        return created(existing.order)
                    return idempotency.SavedWithResult(existing.response)
                raise OrderExists(
                    f"An order with orderNumber {order.order_number!r} already exists."
                ) from None
            runtime.queue.schedule(JobKind.ORDER.item(order.id), due_at)
            runtime.metrics.orders_created.inc()
            log.info("order_created", order_number=order.order_number, order_id=order.id)
            return idempotency.SavedWithResult(response)

        return await respond_once(
            request, runtime, key, CREATE_ROUTE, payload, now, create, order_in.order_number
        )

    @get(
        "/",
        summary="List orders, newest first (plain array; next page in the Link header)",
        responses={
            200: ResponseSpec(list[OrderOut], description="Orders", generate_examples=False),
            **problems(400),
        },
    )
    async def list_orders(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Response[bytes]:
        page = await read_page(
            runtime.store.orders.page(status, limit, cursor, runtime.data_scope(request))
        )
        headers = next_page_link(
            "/api/orders", page.next_cursor, limit, status=None if status is None else status.value
        )
        body = encode([order_out(order) for order in page.orders])
        return Response(content=body, media_type=JSON, headers=headers)

    @get(
        "/{order_number:str}",
        summary="Fetch one order",
        responses={
            200: ResponseSpec(OrderOut, description="The order", generate_examples=False),
            **problems(400, 404),
        },
    )
    async def get_order(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, order_number: FromPath[str]
    ) -> Response[bytes]:
        order = await runtime.store.orders.get(order_number, runtime.data_scope(request))
        if order is None:
            raise NotFound(f"No order with orderNumber {order_number!r}.")
        return Response(content=encode(order_out(order)), media_type=JSON)

    @get(
        "/{order_number:str}/events",
        summary="The order's audit trail: every webhook received for it, oldest first",
        responses={
            200: ResponseSpec(
                list[AuditEntryOut], description="Audit trail", generate_examples=False
            ),
            **problems(400, 404),
        },
    )
    async def order_events(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        order_number: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 500,
    ) -> Response[bytes]:
        if await runtime.store.orders.get(order_number, runtime.data_scope(request)) is None:
            raise NotFound(f"No order with orderNumber {order_number!r}.")
        receipts = await runtime.store.payments.for_order(order_number, limit)
        body = encode(
            [
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
        )
        return Response(content=body, media_type=JSON)
