"""The Idempotency-Key state machine (Stripe semantics, IETF draft status codes).

    absent ──claim──▶ in_progress ──complete──▶ completed ──(retention)──▶ absent
                          │  └──5xx: release──▶ absent
                          ├──its result carries the response (a create's order): completed
                          └──lease expired: next request takes it over (compare-and-set)

Only the atomic `claim` (one insert against a unique index) decides who executes;
there is no read-then-write. A completed key replays the stored bytes; a key whose
fingerprint differs is refused (422); a key still held is busy (409 + Retry-After).
An expired record is treated as absent even before the TTL monitor deletes it.

A create goes a shorter way (`execute_keeping`): its order's `_id` comes from the key, and
the order is inserted with the fingerprint and the response, so that one insert is the
claim, the result and the record at once (one durable write per create, as a bare insert;
docs/decisions.md). There is no in-progress state to see: the order exists or not.
Every other route first asks whether a create used the key (`key_uses`), so a key stays
one request's across routes; two first uses of one key at the same instant, one of them a
create, are not told apart (docs/decisions.md).

Round trips: `begin` is 2 reads when the key has been used (a replay, 409 or 422: a
create's order, then the record), else those and the claim; plus 1 for a takeover, and 1
to read the result of a record that names one; `finish` is 1, the journaled one, or only
the journal flush when the handler's own write kept the response (`ResponseKeptByHandler`).
`execute_keeping` is 2 reads at once (the record, the order), then the insert; a replay
is the 2 reads.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

import msgspec

from payflow.domain.idempotency_keys import KeyState
from payflow.errors import (
    IdempotencyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    PayflowError,
)
from payflow.ids import token
from payflow.store.base import (
    IdempotencyRecord,
    IdempotencyRef,
    IdempotencyStore,
    KeptUse,
    StoredResponse,
)

IN_PROGRESS, COMPLETED = KeyState.IN_PROGRESS, KeyState.COMPLETED
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"

_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")
# Normalising must neither round (28 digits by default) nor trap on a huge exponent.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


@dataclass(frozen=True, slots=True)
class Policy:
    retention: timedelta
    lease: timedelta
    retry_after_seconds: int


@dataclass(frozen=True, slots=True)
class ResponseKeptByHandler:
    """A handler's answer that its own write already kept for replays (with the result the
    record's `result_order` names), so `finish` needs no write of its own, only durability."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Claim:
    """We hold the key: execute the request, then `finish`."""

    record: IdempotencyRecord
    took_over: bool


def validate_key(raw: str | None) -> str:
    """The key: 1-255 printable ASCII characters, spaces inside allowed, else a 400 problem.

    The draft defines the key as a structured-field string, which may hold spaces; spaces
    around it are not part of it (HTTP servers strip them from a header value anyway).
    """
    key = "" if raw is None else raw.strip(" \t")
    if key == "":
        raise IdempotencyKeyMissing("Send an Idempotency-Key header (1-255 printable ASCII chars).")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.")
    if not all(" " <= ch <= "~" for ch in key):
        raise IdempotencyKeyInvalid("Idempotency-Key must be printable ASCII characters only.")
    return key


def fingerprint(method: str, route: str, body: Any) -> str:
    """SHA-256 of method, route and canonical JSON of the body (sorted keys, no spaces).

    Numbers are compared by value, so `75`, `75.0` and `75.00` are the same request.
    """
    canonical = _canonical.encode(_normalise_numbers(body))
    digest = hashlib.sha256()
    digest.update(method.upper().encode() + b"\n" + route.encode() + b"\n" + canonical)
    return digest.hexdigest()


def _normalise_numbers(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value).normalize(_EXACT)
    if isinstance(value, dict):
        return {key: _normalise_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise_numbers(item) for item in value]
    return value


async def begin(
    store: IdempotencyStore,
    scope: str,
    key: str,
    request_fingerprint: str,
    now: datetime,
    policy: Policy,
    result_order: str | None = None,
) -> Claim | StoredResponse:
    """Claim the key, or return the stored response to replay, or raise 409/422.

    `result_order`: the order whose insert will keep this request's response (a create).
    """
    mine = IdempotencyRecord(
        scope=scope,
        key=key,
        fingerprint=request_fingerprint,
        state=IN_PROGRESS,
        lease_token=token(),
        lease_expires_at=now + policy.lease,
        expires_at=now + policy.retention,
        result_order=result_order,
    )
    uses = await store.key_uses(scope, key, now)
    if uses.live is not None:  # a create used the key (another route: a 422)
        return _kept_response(uses.live, request_fingerprint)
    existing = await store.claim(mine)
    if existing is None:
        return Claim(mine, took_over=False)
    if existing.expires_at <= now:
        # Retention is over: the key is free again, whatever the record says.
        if await store.replace_if_token(existing.lease_token, mine):
            return Claim(mine, took_over=False)
        raise IdempotencyInProgress(policy.retry_after_seconds)
    if existing.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key."
        )
    if existing.state == COMPLETED and existing.response is not None:
        return existing.response
    if existing.lease_expires_at <= now:
        # The holder died: take over its work (the caller adopts what it already wrote).
        taken = replace(mine, expires_at=existing.expires_at)
        if await store.replace_if_token(existing.lease_token, taken):
            return Claim(taken, took_over=True)
    raise IdempotencyInProgress(policy.retry_after_seconds)


async def finish(
    store: IdempotencyStore, claim: Claim, outcome: StoredResponse | ResponseKeptByHandler
) -> StoredResponse:
    """Record the outcome: 5xx releases the key, anything else is kept for replay."""
    if isinstance(outcome, ResponseKeptByHandler):
        await store.flush_journal()  # kept with the result: only make it durable
        return outcome.response
    if outcome.status >= 500:
        await store.release(claim.record)
    else:
        await store.complete(claim.record, outcome)
    return outcome


def seed_for_ids(claim: Claim) -> str:
    """A seed for the ids of what a claim creates, so that a crash leaves nothing half done.

    A retry that takes over a dead holder's claim gets the same seed and so the same ids:
    it finds the holder's writes and finishes them instead of repeating them. Once the
    key's retention is over and it is used afresh, the seed (and every id) is new.
    """
    record = claim.record
    # Milliseconds, as the database keeps them: the taken-over record was read back from it.
    expires_ms = record.expires_at.replace(microsecond=record.expires_at.microsecond // 1000 * 1000)
    return f"{record.scope}\n{record.key}\n{record.fingerprint}\n{expires_ms.isoformat()}"


def replayed(response: StoredResponse) -> StoredResponse:
    headers = dict(response.headers)
    headers[REPLAYED_HEADER] = "true"
    return StoredResponse(response.status, headers, response.body)


async def execute(
    store: IdempotencyStore,
    scope: str,
    key: str,
    request_fingerprint: str,
    now: datetime,
    policy: Policy,
    handler: Callable[[Claim], Awaitable[StoredResponse | ResponseKeptByHandler]],
    render_problem: Callable[[PayflowError], StoredResponse],
    result_order: str | None = None,
) -> StoredResponse:
    """Run `handler` at most once per key; 4xx problems it raises are recorded too."""
    outcome = await begin(store, scope, key, request_fingerprint, now, policy, result_order)
    if isinstance(outcome, StoredResponse):
        return replayed(outcome)
    response: StoredResponse | ResponseKeptByHandler
    try:
        response = await handler(outcome)
    except PayflowError as problem:
        response = render_problem(problem)
    except BaseException:
        await store.release(outcome.record)
        raise
    return await finish(store, outcome, response)


def _kept_response(use: KeptUse, request_fingerprint: str) -> StoredResponse:
    if use.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key."
        )
    return use.response


# What `execute_keeping` runs: insert the result under this id, made by this key and kept
# for it until the given instant; its response, or None when a unique index refused it.
KeepingInsert = Callable[[str, IdempotencyRef, datetime], Awaitable[StoredResponse | None]]


async def execute_keeping(
    store: IdempotencyStore,
    scope: str,
    key: str,
    request_fingerprint: str,
    now: datetime,
    policy: Policy,
    result_id: Callable[[int], str],
    insert: KeepingInsert,
    refused: Callable[[IdempotencyRef], Awaitable[StoredResponse]],
    render_problem: Callable[[PayflowError], StoredResponse],
) -> StoredResponse:
    """Run a create at most once per key, its result (the order) keeping the key's use.

    Both places a key's use can be are read at once: its own record, and the result of
    the key's current generation (`result_id`). Neither there: one insert under that id.
    The unique `_id` lets one request of the key win; a loser reads the winner's result
    and replays it. A key with a live record of its own (another route's, a 4xx kept, an
    older payflow's create) and an insert refused for another reason go the ordinary way,
    which keeps what `refused` answers for the key's replays: the result this very request
    made before (its holder died, or its retention is over), or the problem it raises (an
    order of that number made by another key).
    """
    ref = IdempotencyRef(scope, key, request_fingerprint)
    record, uses = await asyncio.gather(store.find(scope, key), store.key_uses(scope, key, now))
    tried = False
    if record is None or record.expires_at <= now:
        while True:
            if uses.live is not None:
                return replayed(_kept_response(uses.live, request_fingerprint))
            response = await insert(result_id(uses.generation), ref, now + policy.retention)
            if response is not None:
                return response
            tried, generation = True, uses.generation
            uses = await store.key_uses(scope, key, now)
            if uses.live is None and uses.generation == generation:
                break  # refused by another order of that number

    async def ordinary(claim: Claim) -> StoredResponse:
        if not tried:
            use = await store.key_uses(scope, key, now)
            response = await insert(result_id(use.generation), ref, claim.record.expires_at)
            if response is not None:
                return response
        return await refused(ref)

    return await execute(
        store, scope, key, request_fingerprint, now, policy, ordinary, render_problem
    )


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers worth storing for a replay (never hop-by-hop or per-connection ones)."""
    keep = {"content-type", "location"}
    return {name: value for name, value in headers.items() if name.lower() in keep}
