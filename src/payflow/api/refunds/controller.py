"""Refunds of a Paid order: create (idempotent), list, fetch.

Refunds are their own package, not part of `api/orders/`: a refund is a resource with
its own id, shapes, examples and (to come) listing across orders, whereas cancel and
capture change the order itself and are methods of the orders controller.

A refund is counted on its order by one conditional update (`refunding`), so the
refunds of an order never add up past its amount, however many arrive at once. Its
document in `refunds` then carries the job that announces it (`refund.succeeded`).
Its id comes from the idempotency claim, so a retry that takes over a request which
died half-way finds the refund that request counted and finishes it.

Database round trips of `POST …/refunds` with a fresh key: 1 read (the order: its
currency decides which amounts are valid, which must be known before the key is
claimed, since a 400 is never recorded) + 4 journaled writes — claim the key, count
the refund on the order (+1 when the status guess misses, +2 per concurrent refund
that gets in between), insert the refund with its job, store the response. A replay
is 2 (the read, the claim). `GET` paths are 2 (the order, then its refunds).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, QueryParameter

from payflow import idempotency
from payflow.api.dependencies import DataScope, Orders, Post, Queue, Refunds, find_order, provide
from payflow.api.idempotent import idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.problems import problems
from payflow.api.refunds.docs import REFUND_EXAMPLE, CreateRefundOperation
from payflow.api.refunds.schemas import RefundOut, parse_refund_shape, refund_amount, refund_out
from payflow.domain.jobs import JobKind
from payflow.domain.money import from_minor, to_minor
from payflow.domain.refunds import Refund, derive_refund_id
from payflow.errors import NotFound
from payflow.refunding import count_refund
from payflow.store.base import StoredResponse


class RefundsController(Controller):
    path = "/api/orders/{order_number:str}/refunds"
    tags = ["refunds"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("orders", "refunds", "queue", "data_scope", "post")

    @post(
        "/",
        status_code=201,
        summary="Refund a Paid order, in whole or in part (idempotent)",
        responses={
            201: example_response(RefundOut, "Refunded (or replayed)", refund=REFUND_EXAMPLE),
            **idempotent_problems(
                404,
                503,
                s409="order-not-refundable (not Paid, or already fully refunded), "
                "refund-exceeds-remaining, or idempotency-in-progress (with Retry-After)",
                s503="service-unavailable: very many refunds of this order at once; retry",
            ),
        },
        operation_class=CreateRefundOperation,
        description=(
            "Without `amount`, refunds all that is left. The order becomes PartiallyRefunded "
            "or Refunded, and `refund.succeeded` is sent to the webhook endpoints. Requires "
            "an `Idempotency-Key`."
        ),
    )
    async def create_refund(
        self,
        post: Post,
        orders: Orders,
        refunds: Refunds,
        queue: Queue,
        data_scope: DataScope,
        order_number: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object(optional=True)
        shape = parse_refund_shape(payload)
        order = await find_order(orders, order_number, data_scope)
        amount = refund_amount(payload, order.currency)
        reason = shape.reason if isinstance(shape.reason, str) else None
        now = post.now

        async def refund(claim: idempotency.Claim) -> StoredResponse:
            new_id = derive_refund_id(idempotency.seed_for_ids(claim))
            minor = None if amount is None else to_minor(amount, order.currency)
            counted_on, counted = await count_refund(
                orders, order, new_id, minor, now, resumed=claim.took_over
            )
            stored = await refunds.create(
                Refund(
                    id=new_id,
                    order_id=counted_on.id,
                    order_number=counted_on.order_number,
                    amount=from_minor(counted, counted_on.currency),
                    currency=counted_on.currency,
                    created_at=now,
                    reason=reason,
                    scope=counted_on.scope,
                )
            )
            queue.schedule(JobKind.REFUND.item(stored.id), stored.created_at)
            location = f"/api/orders/{stored.order_number}/refunds/{stored.id}"
            return stored_json(201, refund_out(stored), location)

        return await post.respond(f"/api/orders/{order_number}/refunds", payload, refund)

    @get(
        "/",
        summary="The order's refunds, oldest first (plain array)",
        responses={
            200: example_response(list[RefundOut], "Refunds", refunds=[REFUND_EXAMPLE]),
            **problems(400, 404),
        },
    )
    async def list_refunds(
        self,
        orders: Orders,
        refunds: Refunds,
        data_scope: DataScope,
        order_number: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 1000,
    ) -> list[RefundOut]:
        order = await find_order(orders, order_number, data_scope)
        return [refund_out(r) for r in await refunds.for_order(order.id, limit)]

    @get(
        "/{refund_id:str}",
        summary="One refund",
        responses={
            200: example_response(RefundOut, "The refund", refund=REFUND_EXAMPLE),
            **problems(400, 404),
        },
    )
    async def get_refund(
        self,
        orders: Orders,
        refunds: Refunds,
        data_scope: DataScope,
        order_number: FromPath[str],
        refund_id: FromPath[str],
    ) -> RefundOut:
        order = await find_order(orders, order_number, data_scope)
        found = await refunds.get(refund_id, order.id)
        if found is None:
            raise NotFound(f"No refund {refund_id!r} on order {order_number!r}.")
        return refund_out(found)
