"""Fault rules: create, list, delete (`/api/faults`, DESIGN §8).

A rule makes a share (`rate`) of the requests whose method and path it matches meet
its fault, at most `count` times; `payflow.faults` applies it. Rules live in the
database, so every payflow process on it applies them (each re-reads them at most
once per `[faults] refresh_seconds`; this process at once after a change here).

Database round trips: create 4 (claim the key, count for the cap, insert, store the
response; a replay is 1); list 1; delete 1.
"""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath

from payflow import idempotency
from payflow.api.dependencies import FaultCache, FaultRules, Post, provide
from payflow.api.faults.docs import DELETED_EXAMPLE, EXAMPLE_RULE, CreateFaultRuleOperation
from payflow.api.faults.schemas import FaultRuleOut, parse_create_rule, rule_out
from payflow.api.idempotent import idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.problems import problems
from payflow.api.responses import Deleted
from payflow.domain.faults import FaultRule, rule_id_for
from payflow.errors import FaultRuleLimitReached, NotFound
from payflow.store.base import StoredResponse

ROUTE = "/api/faults"
MAX_RULES = 100


class FaultRulesController(Controller):
    path = ROUTE
    tags = ["faults"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("faults", "fault_cache", "post")

    @post(
        "/",
        status_code=201,
        summary="Create a fault rule (idempotent)",
        responses={
            201: example_response(FaultRuleOut, "Created (or replayed)", created=EXAMPLE_RULE),
            **idempotent_problems(
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
        self, post: Post, faults: FaultRules, fault_cache: FaultCache
    ) -> Response[bytes]:
        payload = await post.json_object()
        rule_in = parse_create_rule(payload)

        async def create(claim: idempotency.Claim) -> StoredResponse:
            if await faults.count() >= MAX_RULES:
                raise FaultRuleLimitReached(
                    f"{MAX_RULES} fault rules exist already; delete one first."
                )
            rule = FaultRule(
                id=rule_id_for(idempotency.seed_for_ids(claim)),
                path=rule_in.path,
                fault=rule_in.fault,
                rate=rule_in.rate,
                created_at=post.now,
                method=rule_in.method,
                count=rule_in.count,
                remaining=rule_in.count,
            )
            await faults.insert(rule)
            fault_cache.invalidate()
            return stored_json(201, rule_out(rule), f"{ROUTE}/{rule.id}")

        return await post.respond(ROUTE, payload, create)

    @get(
        "/",
        summary="List fault rules, oldest first (the order they are asked in)",
        responses={200: example_response(list[FaultRuleOut], "Rules", rules=[EXAMPLE_RULE])},
    )
    async def list_rules(self, faults: FaultRules) -> list[FaultRuleOut]:
        return [rule_out(rule) for rule in await faults.all(MAX_RULES)]

    @delete(
        "/{rule_id:str}",
        status_code=200,
        summary="Delete a fault rule",
        responses={
            200: example_response(Deleted, "Deleted", deleted=DELETED_EXAMPLE),
            **problems(400, 404),
        },
    )
    async def delete_rule(
        self, faults: FaultRules, fault_cache: FaultCache, rule_id: FromPath[str]
    ) -> Deleted:
        if not await faults.delete(rule_id):
            raise NotFound(f"No fault rule with id {rule_id!r}.")
        fault_cache.invalidate()
        return Deleted(id=rule_id, deleted=True)
