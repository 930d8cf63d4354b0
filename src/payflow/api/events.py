"""Events the gateway emitted, their deliveries, and redelivery.

An event is returned as the exact bytes that were signed and sent, so what a developer
reads here is what their endpoint received. With API keys on, a client sees only the
events of its own orders (and their deliveries). Round trips: every GET is 1 (a delivery
2 with API keys on: its event says whose it is); redeliver is the idempotency claim + 1
conditional update + the completion (+2 reads with API keys on).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter

from payflow import idempotency
from payflow.api.docs import JSON, problems
from payflow.api.idempotent import respond_once
from payflow.api.paging import next_page_link, read_page
from payflow.api.schemas import AttemptOut, DeliveryOut, EventOut
from payflow.codec import encode
from payflow.domain.jobs import JobKind
from payflow.errors import DeliveryNotFinished, NotFound
from payflow.lifespan import Runtime, RuntimeDep
from payflow.store.base import Delivery, StoredResponse
from payflow.timefmt import isoformat


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        order_number=delivery.order_number,
        endpoint_id=delivery.endpoint_id,
        url=delivery.url,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=None
        if delivery.next_attempt_at is None
        else isoformat(delivery.next_attempt_at),
        created_at=isoformat(delivery.created_at),
        delivered_at=None if delivery.delivered_at is None else isoformat(delivery.delivered_at),
        log=[
            AttemptOut(
                at=isoformat(a.at),
                attempt=a.number,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                response=a.response_excerpt,
            )
            for a in delivery.log
        ],
    )


async def visible_delivery(
    runtime: Runtime, delivery_id: str, data_scope: str | None
) -> Delivery | None:
    """The delivery, if its event is one this client may see (+1 read with API keys on)."""
    delivery = await runtime.store.deliveries.get(delivery_id)
    if delivery is None or data_scope is None:
        return delivery
    if await runtime.store.events.get(delivery.event_id, data_scope) is None:
        return None
    return delivery


class EventsController(Controller):
    path = "/api/events"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get(
        "/",
        summary="Events the gateway emitted, newest first (plain array; next page in Link)",
        responses={
            200: ResponseSpec(
                list[EventOut], description="Events as sent", generate_examples=False
            ),
            **problems(400),
        },
    )
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        event_type: Annotated[str | None, QueryParameter(name="type", max_length=100)] = None,
        order_number: Annotated[
            str | None, QueryParameter(name="orderNumber", max_length=64)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Response[bytes]:
        events, next_cursor = await read_page(
            runtime.store.events.page(
                event_type, order_number, limit, cursor, runtime.data_scope(request)
            )
        )
        headers = next_page_link(
            "/api/events", next_cursor, limit, orderNumber=order_number, type=event_type
        )
        body = b"[" + b",".join(event.body for event in events) + b"]"
        return Response(content=body, media_type=JSON, headers=headers)

    @get(
        "/{event_id:str}",
        summary="One event, byte for byte as it was signed and sent",
        responses={
            200: ResponseSpec(EventOut, description="The event", generate_examples=False),
            **problems(400, 404),
        },
    )
    async def get_event(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, event_id: FromPath[str]
    ) -> Response[bytes]:
        event = await runtime.store.events.get(event_id, runtime.data_scope(request))
        if event is None:
            raise NotFound(f"No event with id {event_id!r}.")
        return Response(content=event.body, media_type=JSON)

    @get(
        "/{event_id:str}/deliveries",
        summary="The event's deliveries, each with its attempt log",
        responses={
            200: ResponseSpec(list[DeliveryOut], description="Deliveries", generate_examples=False),
            **problems(400, 404),
        },
    )
    async def event_deliveries(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, event_id: FromPath[str]
    ) -> Response[bytes]:
        if await runtime.store.events.get(event_id, runtime.data_scope(request)) is None:
            raise NotFound(f"No event with id {event_id!r}.")
        deliveries = await runtime.store.deliveries.for_event(event_id)
        return Response(content=encode([delivery_out(d) for d in deliveries]), media_type=JSON)


class DeliveriesController(Controller):
    path = "/api/deliveries"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get(
        "/{delivery_id:str}",
        summary="One delivery with its attempt log",
        responses={
            200: ResponseSpec(DeliveryOut, description="The delivery", generate_examples=False),
            **problems(400, 404),
        },
    )
    async def get_delivery(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, delivery_id: FromPath[str]
    ) -> Response[bytes]:
        delivery = await visible_delivery(runtime, delivery_id, runtime.data_scope(request))
        if delivery is None:
            raise NotFound(f"No delivery with id {delivery_id!r}.")
        return Response(content=encode(delivery_out(delivery)), media_type=JSON)

    @post(
        "/{delivery_id:str}/redeliver",
        status_code=202,
        summary="Send a dead or succeeded delivery again (idempotent)",
        responses={
            202: ResponseSpec(DeliveryOut, description="Queued again", generate_examples=False),
            **problems(
                400,
                404,
                409,
                422,
                s400="idempotency-key-missing or idempotency-key-invalid",
                s409="delivery-not-finished, or idempotency-in-progress (with Retry-After)",
            ),
        },
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        delivery_id: FromPath[str],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", required=False, description="1-255 chars"),
        ] = None,
    ) -> Response[bytes]:
        key = idempotency.validate_key(request.headers.get("idempotency-key"))
        now = runtime.clock()
        data_scope = runtime.data_scope(request)

        async def requeue(_: idempotency.Claim) -> StoredResponse:
            if data_scope is not None and not await visible_delivery(
                runtime, delivery_id, data_scope
            ):
                raise NotFound(f"No delivery with id {delivery_id!r}.")
            delivery = await runtime.store.deliveries.redeliver(delivery_id, now)
            if delivery is None:
                if await runtime.store.deliveries.get(delivery_id) is None:
                    raise NotFound(f"No delivery with id {delivery_id!r}.")
                raise DeliveryNotFinished(
                    "This delivery is still pending or in flight; redeliver it once it is "
                    "succeeded or dead."
                )
            runtime.queue.schedule(JobKind.DELIVERY.item(delivery.id), now)
            return StoredResponse(202, {"content-type": JSON}, encode(delivery_out(delivery)))

        route = f"/api/deliveries/{delivery_id}/redeliver"
        return await respond_once(request, runtime, key, route, {}, now, requeue)
