"""Idempotent POSTs: every route with an `Idempotency-Key` answers through here.

A handler asks for `post: IdempotentPost` (a dependency): the key is validated before
the handler runs (a missing one is `idempotency-key-missing`), the handler reads the
body through `post.json_object()` and passes its work to `post.respond(...)`. So each
of them records 4xx problems for replay, replays byte for byte, and counts replays and
refused keys in the metrics in the same way. This is the one place outside the
webhook receiver that reads raw request bytes: the fingerprint and the byte-identical
replay need them. `idempotent_post_operation` documents such a route alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Operation, RequestBody

from payflow import idempotency
from payflow.api.body import decode_json_object
from payflow.api.openapi import header_parameter, response_header
from payflow.api.problems import problems
from payflow.api.responses import JSON, PROBLEM_JSON
from payflow.codec import encode
from payflow.errors import IdempotencyInProgress, IdempotencyKeyReused, PayflowError
from payflow.idempotency import MAX_KEY_LENGTH
from payflow.lifespan import RuntimeDep
from payflow.metrics import Metrics
from payflow.store.base import IdempotencyRef, IdempotencyStore, StoredResponse

Handler = Callable[
    [idempotency.Claim], Awaitable[StoredResponse | idempotency.ResponseKeptByHandler]
]


def stored_problem(problem: PayflowError) -> StoredResponse:
    """A 4xx problem as a recordable response (replayed byte for byte like a success)."""
    body: dict[str, Any] = {
        "type": problem.type_,
        "title": problem.title,
        "status": problem.status_code,
        "detail": problem.detail,
    }
    if isinstance(problem.extra, dict):
        body.update(problem.extra)
    headers = {"content-type": PROBLEM_JSON, **(problem.headers or {})}
    return StoredResponse(problem.status_code, headers, encode(body))


def to_response(stored: StoredResponse) -> Response[bytes]:
    headers = {k: v for k, v in stored.headers.items() if k.lower() != "content-type"}
    return Response(
        content=stored.body,
        status_code=stored.status,
        headers=headers,
        media_type=stored.headers.get("content-type", JSON),
    )


def stored_json(status: int, value: Any, location: str | None = None) -> StoredResponse:
    """A success to keep for replays: `value` in payflow's byte form, its `Location`."""
    headers = {"content-type": JSON}
    if location is not None:
        headers["location"] = location
    return StoredResponse(status, headers, encode(value))


@dataclass
class IdempotentPost:
    """One idempotent POST: its validated key, its body, and `respond` to run it once."""

    request: Request[Any, Any, Any]
    key: str
    now: datetime
    store: IdempotencyStore
    scope: str
    policy: idempotency.Policy
    metrics: Metrics

    async def json_object(self, *, optional: bool = False) -> dict[str, Any]:
        """The body as a JSON object, numbers exact; `optional`: an empty body reads as `{}`."""
        raw = await self.request.body()
        if optional and not raw:  # only no bytes at all: whitespace is not JSON
            return {}
        return decode_json_object(raw)

    async def respond(
        self,
        route: str,
        payload: dict[str, Any],
        handler: Handler,
        result_order: str | None = None,
    ) -> Response[bytes]:
        """Run `handler` at most once per client and key; a retry replays its answer.

        The caller validates `payload` first, so that a 400 is never recorded and the
        key can be retried with a corrected request. `result_order`: a create names its
        order, whose insert keeps the response.
        """
        return await self._answer(
            idempotency.execute(
                self.store,
                self.scope,
                self.key,
                idempotency.fingerprint("POST", route, payload),
                self.now,
                self.policy,
                handler,
                stored_problem,
                result_order,
            )
        )

    async def respond_keeping(
        self,
        route: str,
        payload: dict[str, Any],
        result_id: Callable[[int], str],
        insert: idempotency.KeepingInsert,
        refused: Callable[[IdempotencyRef], Awaitable[StoredResponse]],
    ) -> Response[bytes]:
        """`respond` for a create whose one insert keeps the key's use (its result's id
        comes from the key: `result_id` per generation). `insert` answers None when a
        unique index refused it; `refused` then answers for the key (kept for its replays):
        the result this request made before, or a problem it raises."""
        return await self._answer(
            idempotency.execute_keeping(
                self.store,
                self.scope,
                self.key,
                idempotency.fingerprint("POST", route, payload),
                self.now,
                self.policy,
                result_id,
                insert,
                refused,
                stored_problem,
            )
        )

    async def _answer(self, outcome: Awaitable[StoredResponse]) -> Response[bytes]:
        """The response, with the replays and refused keys counted."""
        try:
            stored = await outcome
        except IdempotencyKeyReused:
            self.metrics.idempotency_conflicts.labels(reason="reused").inc()
            raise
        except IdempotencyInProgress:
            self.metrics.idempotency_conflicts.labels(reason="in_progress").inc()
            raise
        if idempotency.REPLAYED_HEADER in stored.headers:
            self.metrics.idempotent_replays.inc()
        return to_response(stored)


def provide_idempotent_post(request: Request[Any, Any, Any], runtime: RuntimeDep) -> IdempotentPost:
    """The dependency: validates the key first, so a bad key never reaches the handler."""
    return IdempotentPost(
        request=request,
        key=idempotency.validate_key(request.headers.get("idempotency-key")),
        now=runtime.clock(),
        store=runtime.store.idempotency,
        scope=runtime.scope_for(request),
        policy=runtime.idempotency_policy,
        metrics=runtime.metrics,
    )


def idempotent_problems(*statuses: int, **descriptions: str) -> dict[int, ResponseSpec]:
    """The problems every idempotent POST can answer (400 for the key or the body, 409 in
    progress, 413, 422 reused), plus the route's own `statuses`."""
    descriptions.setdefault(
        "s400", "validation-error, idempotency-key-missing or idempotency-key-invalid"
    )
    return problems(*sorted({400, 409, 413, 422, *statuses}), **descriptions)


def idempotent_post_operation(
    success: int, body: RequestBody | None = None, location: str | None = None
) -> type[Operation]:
    """The OpenAPI operation of an idempotent POST: its body (read as raw bytes, so
    Litestar cannot see it), the required key, `Location`, the replay marker on
    `success` and the 409's `Retry-After`."""

    @dataclass
    class IdempotentPostOperation(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = body
            others = [
                p for p in self.parameters or [] if getattr(p, "name", "") != "Idempotency-Key"
            ]
            key = header_parameter(
                "Idempotency-Key",
                f"Required: 1-{MAX_KEY_LENGTH} printable ASCII characters, spaces inside allowed",
                required=True,
                min_length=1,
                max_length=MAX_KEY_LENGTH,
                pattern=f"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$",
            )
            self.parameters = [key, *others]
            if location is not None:
                response_header(self, success, "Location", location, required=True)
            response_header(
                self, success, "Idempotent-Replayed", "`true` on a replay of the first response"
            )
            response_header(
                self,
                409,
                "Retry-After",
                "Seconds to wait (idempotency-in-progress only)",
                kind=OpenAPIType.INTEGER,
            )

    return IdempotentPostOperation
