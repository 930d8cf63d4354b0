"""`POST /api/orders/{orderNumber}/cancel`: a Pending order will never be paid.

Canceling is one conditional update (Pending → Canceled), so it and the worker's
payment job cannot both win: the job finds the order Canceled and announces the
cancellation (`order.canceled`) instead of a payment, and a payment event that was
already on its way is `ignored` by the receiver, which only moves Pending orders.
The same update queues the announcing job, so a crash cannot lose the event.

Database round trips: 3 journaled writes — claim the key, the conditional update,
store the response; +1 read when the order is not Pending (to say why). A replay is 1.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from payflow import idempotency
from payflow.api.docs import JSON, example_response, problems
from payflow.api.idempotent import KeyHeader, respond_once
from payflow.api.order_action_docs import CancelOrderOperation
from payflow.api.refund_schemas import CANCELED_EXAMPLE, CancelOrderRequest
from payflow.api.schemas import OrderOut, convert_body, decode_json_object, order_out
from payflow.codec import encode
from payflow.domain.jobs import JobKind
from payflow.errors import NotFound, OrderNotCancelable
from payflow.lifespan import RuntimeDep
from payflow.store.base import StoredResponse


@post(
    "/api/orders/{order_number:str}/cancel",
    status_code=200,
    tags=["orders"],
    summary="Cancel a Pending order (idempotent)",
    responses={
        200: example_response(OrderOut, "Canceled (or replayed)", canceled=CANCELED_EXAMPLE),
        **problems(
            400,
            404,
            409,
            413,
            422,
            s400="validation-error, idempotency-key-missing or idempotency-key-invalid",
            s409="order-not-cancelable: the order is no longer Pending; or "
            "idempotency-in-progress (with Retry-After)",
        ),
    },
    operation_class=CancelOrderOperation,
    description=(
        "Only a Pending order can be canceled; its payment is then never made, and "
        "`order.canceled` is sent to the webhook endpoints. Requires an `Idempotency-Key`."
    ),
)
async def cancel_order(
    request: Request[Any, Any, Any],
    runtime: RuntimeDep,
    order_number: FromPath[str],
    idempotency_key: KeyHeader = None,
) -> Response[bytes]:
    key = idempotency.validate_key(request.headers.get("idempotency-key"))
    body = await request.body()
    payload = decode_json_object(body) if body.strip() else {}
    convert_body(payload, CancelOrderRequest)
    now = runtime.clock()
    data_scope = runtime.data_scope(request)

    async def cancel(_: idempotency.Claim) -> StoredResponse:
        order = await runtime.store.orders.cancel(order_number, data_scope, now)
        if order is None:
            current = await runtime.store.orders.get(order_number, data_scope)
            if current is None:
                raise NotFound(f"No order with orderNumber {order_number!r}.")
            raise OrderNotCancelable(
                f"Order {order_number!r} is {current.status.value}; only a Pending order can "
                "be canceled."
            )
        runtime.queue.schedule(JobKind.ORDER.item(order.id), now)
        return StoredResponse(200, {"content-type": JSON}, encode(order_out(order)))

    route = f"/api/orders/{order_number}/cancel"
    return await respond_once(request, runtime, key, route, payload, now, cancel)
