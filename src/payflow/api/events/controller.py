"""Events the gateway emitted, their deliveries, and redelivery.

An event is returned as the exact bytes that were signed and sent (`msgspec.Raw`), so
what a developer reads here is what their endpoint received. With API keys on, a
client sees only the events of its own orders (and their deliveries). Round trips:
every GET is 1 (a delivery 2 with API keys on: its event says whose it is); redeliver
is the idempotency claim + 1 conditional update + the completion (+2 reads with API
keys on).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter
from msgspec import Raw

from payflow import idempotency
from payflow.api.dependencies import DataScope, Deliveries, Events, Post, Queue, provide
from payflow.api.events.schemas import DeliveryOut, EventOut, delivery_out
from payflow.api.idempotent import (
    idempotent_post_operation,
    idempotent_problems,
    stored_json,
)
from payflow.api.paging import next_page_link, read_page
from payflow.api.problems import problems
from payflow.api.responses import ExactJSON
from payflow.domain.jobs import JobKind
from payflow.errors import DeliveryNotFinished, NotFound
from payflow.store.base import Delivery, DeliveryStore, EventStore, StoredResponse


def _no_event(event_id: str) -> NotFound:
    return NotFound(f"No event with id {event_id!r}.")


def _no_delivery(delivery_id: str) -> NotFound:
    return NotFound(f"No delivery with id {delivery_id!r}.")


async def visible_delivery(
    deliveries: DeliveryStore, events: EventStore, delivery_id: str, data_scope: str | None
) -> Delivery | None:
    """The delivery, if its event is one this client may see (+1 read with API keys on)."""
    delivery = await deliveries.get(delivery_id)
    if delivery is None or data_scope is None:
        return delivery
    if await events.get(delivery.event_id, data_scope) is None:
        return None
    return delivery


class EventsController(Controller):
    path = "/api/events"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("events", "deliveries", "data_scope")

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
        events: Events,
        data_scope: DataScope,
        event_type: Annotated[str | None, QueryParameter(name="type", max_length=100)] = None,
        order_number: Annotated[
            str | None, QueryParameter(name="orderNumber", max_length=64)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> ExactJSON[list[Raw]]:
        page, next_cursor = await read_page(
            events.page(event_type, order_number, limit, cursor, data_scope)
        )
        headers = next_page_link(
            "/api/events", next_cursor, limit, orderNumber=order_number, type=event_type
        )
        return ExactJSON([Raw(event.body) for event in page], headers=headers)

    @get(
        "/{event_id:str}",
        summary="One event, byte for byte as it was signed and sent",
        responses={
            200: ResponseSpec(EventOut, description="The event", generate_examples=False),
            **problems(400, 404),
        },
    )
    async def get_event(
        self, events: Events, data_scope: DataScope, event_id: FromPath[str]
    ) -> Raw:
        event = await events.get(event_id, data_scope)
        if event is None:
            raise _no_event(event_id)
        return Raw(event.body)

    @get(
        "/{event_id:str}/deliveries",
        summary="The event's deliveries, each with its attempt log",
        responses=problems(400, 404),
    )
    async def event_deliveries(
        self, events: Events, deliveries: Deliveries, data_scope: DataScope, event_id: FromPath[str]
    ) -> list[DeliveryOut]:
        if await events.get(event_id, data_scope) is None:
            raise _no_event(event_id)
        return [delivery_out(d) for d in await deliveries.for_event(event_id)]


class DeliveriesController(Controller):
    path = "/api/deliveries"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("events", "deliveries", "queue", "data_scope", "post")

    @get(
        "/{delivery_id:str}",
        summary="One delivery with its attempt log",
        responses=problems(400, 404),
    )
    async def get_delivery(
        self,
        events: Events,
        deliveries: Deliveries,
        data_scope: DataScope,
        delivery_id: FromPath[str],
    ) -> DeliveryOut:
        delivery = await visible_delivery(deliveries, events, delivery_id, data_scope)
        if delivery is None:
            raise _no_delivery(delivery_id)
        return delivery_out(delivery)

    @post(
        "/{delivery_id:str}/redeliver",
        status_code=202,
        summary="Send a dead or succeeded delivery again (idempotent)",
        responses={
            202: ResponseSpec(DeliveryOut, description="Queued again", generate_examples=False),
            **idempotent_problems(
                404,
                s400="idempotency-key-missing or idempotency-key-invalid",
                s409="delivery-not-finished, or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=idempotent_post_operation(202),
    )
    async def redeliver(
        self,
        post: Post,
        events: Events,
        deliveries: Deliveries,
        queue: Queue,
        data_scope: DataScope,
        delivery_id: FromPath[str],
    ) -> Response[bytes]:
        async def requeue(_: idempotency.Claim) -> StoredResponse:
            if data_scope is not None and not await visible_delivery(
                deliveries, events, delivery_id, data_scope
            ):
                raise _no_delivery(delivery_id)
            delivery = await deliveries.redeliver(delivery_id, post.now)
            if delivery is None:
                if await deliveries.get(delivery_id) is None:
                    raise _no_delivery(delivery_id)
                raise DeliveryNotFinished(
                    "This delivery is still pending or in flight; redeliver it once it is "
                    "succeeded or dead."
                )
            queue.schedule(JobKind.DELIVERY.item(delivery.id), post.now)
            return stored_json(202, delivery_out(delivery))

        return await post.respond(f"/api/deliveries/{delivery_id}/redeliver", {}, requeue)
