"""Fault rules: create, list, delete (`/api/faults`, DESIGN §8).

A rule makes a share (`rate`) of the requests whose method and path it matches meet
its fault, at most `count` times; `payflow.faults` applies it. Rules live in the
database, so every payflow process on it applies them (each re-reads them at most
once per `[faults] refresh_seconds`; this process at once after a change here).

Database round trips: create 4 (claim the key, count for the cap, insert, store the
response; a replay is 1); list 1; delete 1.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath

from payflow import idempotency
from payflow.api.docs import JSON, example_response, problems
from payflow.api.faults.schemas import (
    DELETED_EXAMPLE,
    EXAMPLE_RULE,
    CreateFaultRuleOperation,
    FaultRuleDeletedOut,
    FaultRuleOut,
    parse_create_rule,
    rule_out,
)
from payflow.api.idempotent import KeyHeader, respond_once
from payflow.api.schemas import decode_json_object
from payflow.codec import encode
from payflow.domain.faults import FaultRule, rule_id_for
from payflow.errors import FaultRuleLimitReached, NotFound
from payflow.faults.middleware import cached_rules
from payflow.lifespan import RuntimeDep
from payflow.store.base import StoredResponse

ROUTE = "/api/faults"
MAX_RULES = 100


class FaultRulesController(Controller):
    path = ROUTE
    tags = ["faults"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post(
        "/",
        status_code=201,
        summary="Create a fault rule (idempotent)",
        responses={
            201: example_response(FaultRuleOut, "Created (or replayed)", created=EXAMPLE_RULE),
            **problems(
                400,
                409,
                413,
                422,
                s400="validation-error, idempotency-key-missing or idempotency-key-invalid",
                s409="fault-rule-limit-reached, or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CreateFaultRuleOperation,
        description=(
            "`path` (a glob), `fault` (as the `Payflow-Fault` header spells it), `rate` "
            "(0-1), optional `method` and `count`. Matching requests meet the fault at that "
            "rate, oldest rule first, in every payflow process on the database. A request's "
            "own `Payflow-Fault` header overrides the rules; `/api/faults` itself never "
            "meets a rule."
        ),
    )
    async def create_rule(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        idempotency_key: KeyHeader = None,
    ) -> Response[bytes]:
        key = idempotency.validate_key(request.headers.get("idempotency-key"))
        payload = decode_json_object(await request.body())
        rule_in = parse_create_rule(payload)
        now = runtime.clock()

        async def create(claim: idempotency.Claim) -> StoredResponse:
            if await runtime.store.faults.count() >= MAX_RULES:
                raise FaultRuleLimitReached(
                    f"{MAX_RULES} fault rules exist already; delete one first."
                )
            rule = FaultRule(
                id=rule_id_for(idempotency.work_seed(claim)),
                path=rule_in.path,
                fault=rule_in.fault,
                rate=rule_in.rate,
                created_at=now,
                method=rule_in.method,
                count=rule_in.count,
                remaining=rule_in.count,
            )
            await runtime.store.faults.insert(rule)
            cached_rules(request.app).invalidate()
            headers = {"content-type": JSON, "location": f"{ROUTE}/{rule.id}"}
            return StoredResponse(201, headers, encode(rule_out(rule)))

        return await respond_once(request, runtime, key, ROUTE, payload, now, create)

    @get(
        "/",
        summary="List fault rules, oldest first (the order they are asked in)",
        responses={200: example_response(list[FaultRuleOut], "Rules", rules=[EXAMPLE_RULE])},
    )
    async def list_rules(self, runtime: RuntimeDep) -> Response[bytes]:
        rules = await runtime.store.faults.all(MAX_RULES)
        return Response(content=encode([rule_out(rule) for rule in rules]), media_type=JSON)

    @delete(
        "/{rule_id:str}",
        status_code=200,
        summary="Delete a fault rule",
        responses={
            200: example_response(FaultRuleDeletedOut, "Deleted", deleted=DELETED_EXAMPLE),
            **problems(400, 404),
        },
    )
    async def delete_rule(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, rule_id: FromPath[str]
    ) -> Response[bytes]:
        if not await runtime.store.faults.delete(rule_id):
            raise NotFound(f"No fault rule with id {rule_id!r}.")
        cached_rules(request.app).invalidate()
        return Response(
            content=encode(FaultRuleDeletedOut(id=rule_id, deleted=True)), media_type=JSON
        )
