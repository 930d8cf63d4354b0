"""Webhook endpoints: register, list, fetch, delete, rotate the secret, enable, deliveries.

Each endpoint gets its own generated secret and signature scheme; the secret is
shown once, in the response that created (or rotated) it, as Stripe does. The
built-in endpoint (`we_default`, from settings) is listed with `builtIn: true`
and is read-only here. After every change the process's endpoint directory is
refreshed, so the very next event goes to the new set of endpoints; other
processes pick the change up within a poll interval.

Each endpoint shows its health (`status`, `circuit`, `failingSince`: DESIGN §8); `enable`
brings a disabled endpoint back with a closed circuit and a fresh failing window (the
built-in endpoint is never disabled, but `enable` resets its breaker too).

Database round trips: create 5 (claim the key, count for the cap, insert, refresh
the directory, store the response; a replay is 1); rotate 5 (claim, read, CAS
replace, refresh, store; +2 per lost race); enable 5 (claim, read, CAS, refresh, store;
+2 per lost race); delete 2 (delete, refresh); list and fetch 1
(the built-in endpoint 0); deliveries 2 (the endpoint exists, the page).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, QueryParameter

from payflow import idempotency, signing
from payflow.api.dependencies import (
    Deliveries,
    Directory,
    Endpoints,
    Now,
    Post,
    SettingsDep,
    provide,
)
from payflow.api.endpoints.docs import (
    CREATED_EXAMPLE,
    DELETED_EXAMPLE,
    EXAMPLE_ENDPOINT,
    LIST_EXAMPLE,
    ROTATED_EXAMPLE,
    CreateEndpointOperation,
    EnableOperation,
    RotateSecretOperation,
)
from payflow.api.endpoints.schemas import (
    EndpointOut,
    EndpointWithSecretOut,
    built_in_out,
    chaos_of,
    parse_create_endpoint,
    registered_out,
    with_secret,
)
from payflow.api.events.schemas import DeliveryOut, delivery_out
from payflow.api.idempotent import idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.paging import next_page_link, read_page
from payflow.api.problems import problems
from payflow.api.responses import Deleted, ExactJSON
from payflow.domain.endpoint_health import enabled
from payflow.domain.endpoints import (
    DEFAULT_ENDPOINT_ID,
    LOAD_LIMIT,
    RegisteredEndpoint,
    SecretVersion,
    new_endpoint_id,
)
from payflow.errors import EndpointBuiltIn, EndpointLimitReached, NotFound, ValidationFailed
from payflow.store.base import StoredResponse

ROUTE = "/api/webhook-endpoints"


def _built_in_problem(action: str) -> EndpointBuiltIn:
    return EndpointBuiltIn(
        f"{DEFAULT_ENDPOINT_ID} is payflow's built-in endpoint; {action} it through "
        "[webhooks] settings (PAYFLOW_WEBHOOKS__TARGET_URL, PAYFLOW_WEBHOOKS__SECRET)."
    )


async def _empty_body(post: Post) -> dict[str, Any]:
    """The body of a POST that takes none: nothing, or `{}`."""
    payload = await post.json_object(optional=True)
    if payload:
        fields = ", ".join(sorted(payload)[:5]) + (", …" if len(payload) > 5 else "")
        raise ValidationFailed([{"field": "body", "message": f"unexpected fields: {fields}"}])
    return payload


def _not_found(endpoint_id: str) -> NotFound:
    return NotFound(f"No webhook endpoint with id {endpoint_id!r}.")


class WebhookEndpointsController(Controller):
    path = ROUTE
    tags = ["webhook endpoints"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("endpoints", "deliveries", "directory", "settings", "now", "post")

    @post(
        "/",
        status_code=201,
        summary="Register a webhook endpoint (idempotent); its secret is shown only here",
        responses={
            201: example_response(
                EndpointWithSecretOut, "Created (or replayed)", created=CREATED_EXAMPLE
            ),
            **idempotent_problems(
                s409="endpoint-limit-reached, or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CreateEndpointOperation,
        description=(
            '`url` (http or https), `events` (default `["*"]`), `scheme` (`payflow`, `stripe` '
            "or `standard`, default `payflow`), optional `description`, optional `chaos` "
            "(`duplicateRate` 0-1, `reorderWindowMs`): some events then arrive twice and "
            "late. The response carries the endpoint's signing `secret`; GET never shows "
            "it again."
        ),
    )
    async def create_endpoint(
        self, post: Post, endpoints: Endpoints, directory: Directory, settings: SettingsDep
    ) -> Response[bytes]:
        payload = await post.json_object()
        endpoint_in = parse_create_endpoint(payload)

        async def create(_: idempotency.Claim) -> StoredResponse:
            cap = settings.webhooks.max_endpoints
            if await endpoints.count() >= cap:
                raise EndpointLimitReached(
                    f"{cap} webhook endpoints are registered already; delete one first."
                )
            secret = signing.generate_secret(signing.Scheme(endpoint_in.scheme))
            endpoint = RegisteredEndpoint(
                id=new_endpoint_id(),
                url=endpoint_in.url,
                scheme=endpoint_in.scheme,
                events=tuple(endpoint_in.events),
                description=endpoint_in.description,
                secrets=(SecretVersion(secret),),
                created_at=post.now,
                updated_at=post.now,
                chaos=chaos_of(endpoint_in),
            )
            await endpoints.insert(endpoint)
            await directory.refresh()
            out = with_secret(registered_out(endpoint, post.now), secret)
            return stored_json(201, out, f"{ROUTE}/{endpoint.id}")

        return await post.respond(ROUTE, payload, create)

    @get(
        "/",
        summary="List webhook endpoints: the built-in one first, then the newest",
        responses={200: example_response(list[EndpointOut], "Endpoints", endpoints=LIST_EXAMPLE)},
    )
    async def list_endpoints(
        self, endpoints: Endpoints, directory: Directory, now: Now
    ) -> list[EndpointOut]:
        registered = await endpoints.all(LOAD_LIMIT)
        outs = [built_in_out(directory.built_in)]
        return outs + [registered_out(endpoint, now) for endpoint in registered]

    @get(
        "/{endpoint_id:str}",
        summary="Fetch one webhook endpoint (without its secret)",
        responses={
            200: example_response(EndpointOut, "The endpoint", endpoint=EXAMPLE_ENDPOINT),
            **problems(400, 404),
        },
    )
    async def get_endpoint(
        self, endpoints: Endpoints, directory: Directory, now: Now, endpoint_id: FromPath[str]
    ) -> EndpointOut:
        if endpoint_id == DEFAULT_ENDPOINT_ID:
            return built_in_out(directory.built_in)
        endpoint = await endpoints.get(endpoint_id)
        if endpoint is None:
            raise _not_found(endpoint_id)
        return registered_out(endpoint, now)

    @delete(
        "/{endpoint_id:str}",
        status_code=200,
        summary="Delete a webhook endpoint; its pending deliveries end dead",
        responses={
            200: example_response(Deleted, "Deleted", deleted=DELETED_EXAMPLE),
            **problems(400, 404, 409, s409="endpoint-built-in: the built-in endpoint is read-only"),
        },
    )
    async def delete_endpoint(
        self, endpoints: Endpoints, directory: Directory, endpoint_id: FromPath[str]
    ) -> Deleted:
        if endpoint_id == DEFAULT_ENDPOINT_ID:
            raise _built_in_problem("remove or retarget")
        if not await endpoints.delete(endpoint_id):
            raise _not_found(endpoint_id)
        await directory.refresh()
        return Deleted(id=endpoint_id, deleted=True)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        status_code=200,
        summary="Issue a new secret; the old one keeps signing for the grace period",
        responses={
            200: example_response(EndpointWithSecretOut, "Rotated", rotated=ROTATED_EXAMPLE),
            **idempotent_problems(
                404,
                s409="endpoint-built-in, or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=RotateSecretOperation,
        description=(
            "During the grace period (`[webhooks] rotation_grace_hours`, default 24 h) every "
            "delivery carries one signature per secret, so a receiver that still knows only "
            "the old secret keeps verifying. Send no body (or `{}`)."
        ),
    )
    async def rotate_secret(
        self,
        post: Post,
        endpoints: Endpoints,
        directory: Directory,
        settings: SettingsDep,
        endpoint_id: FromPath[str],
    ) -> Response[bytes]:
        payload = await _empty_body(post)
        grace = timedelta(hours=settings.webhooks.rotation_grace_hours)

        async def rotate(_: idempotency.Claim) -> StoredResponse:
            if endpoint_id == DEFAULT_ENDPOINT_ID:
                raise _built_in_problem("rotate")
            while True:  # each lost compare-and-set means another rotation won: progress
                current = await endpoints.get(endpoint_id)
                if current is None:
                    raise _not_found(endpoint_id)
                secret = signing.generate_secret(signing.Scheme(current.scheme))
                rotated = current.rotated(secret, post.now, grace)
                if await endpoints.replace(rotated):
                    await directory.refresh()
                    return stored_json(200, with_secret(registered_out(rotated, post.now), secret))

        return await post.respond(f"{ROUTE}/{endpoint_id}/rotate-secret", payload, rotate)

    @post(
        "/{endpoint_id:str}/enable",
        status_code=200,
        summary="Bring a disabled endpoint back: closed circuit, fresh failing window",
        responses={
            200: example_response(EndpointOut, "Enabled", enabled=EXAMPLE_ENDPOINT),
            **idempotent_problems(404, s409="idempotency-in-progress (with Retry-After)"),
        },
        operation_class=EnableOperation,
        description=(
            "An endpoint without a successful delivery for `[webhooks] disable_after_hours` "
            "(default 120) is `disabled` and gets no new events. Enabling closes its circuit "
            "and starts a fresh failing window; deliveries still waiting from before are "
            "sent in the order of their events. Send no body (or `{}`)."
        ),
    )
    async def enable_endpoint(
        self, post: Post, endpoints: Endpoints, directory: Directory, endpoint_id: FromPath[str]
    ) -> Response[bytes]:
        payload = await _empty_body(post)

        async def enable(_: idempotency.Claim) -> StoredResponse:
            if await endpoints.change_health(endpoint_id, enabled) is None:
                raise _not_found(endpoint_id)
            await directory.refresh()
            if endpoint_id == DEFAULT_ENDPOINT_ID:
                return stored_json(200, built_in_out(directory.built_in))
            endpoint = await endpoints.get(endpoint_id)
            if endpoint is None:
                raise _not_found(endpoint_id)
            return stored_json(200, registered_out(endpoint, post.now))

        return await post.respond(f"{ROUTE}/{endpoint_id}/enable", payload, enable)

    @get(
        "/{endpoint_id:str}/deliveries",
        summary="The endpoint's deliveries, newest first (plain array; next page in Link)",
        responses=problems(400, 404),
    )
    async def endpoint_deliveries(
        self,
        endpoints: Endpoints,
        deliveries: Deliveries,
        endpoint_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> ExactJSON[list[DeliveryOut]]:
        if endpoint_id != DEFAULT_ENDPOINT_ID and await endpoints.get(endpoint_id) is None:
            raise _not_found(endpoint_id)
        page, next_cursor = await read_page(deliveries.for_endpoint(endpoint_id, limit, cursor))
        headers = next_page_link(f"{ROUTE}/{endpoint_id}/deliveries", next_cursor, limit)
        return ExactJSON([delivery_out(d) for d in page], headers=headers)
