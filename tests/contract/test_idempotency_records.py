"""Idempotency records: one claim wins per (scope, key), a lease token guards every later
write, a released key is free again, and an expired record counts as absent (the
database's TTL monitor removes it only about once a minute) — the key state machine of
DESIGN §1.1 (`payflow.idempotency`) over the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from payflow import idempotency
from payflow.domain.idempotency_keys import KeyState
from payflow.errors import IdempotencyInProgress, IdempotencyKeyReused, OrderExists
from payflow.store.base import IdempotencyRecord, StoredResponse
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import FakeClock

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]
POLICY = idempotency.Policy(timedelta(hours=24), timedelta(seconds=30), 1)
OK = StoredResponse(201, {"content-type": "application/json"}, b'{"ok":true}')


def problem(exc: Any) -> StoredResponse:
    return StoredResponse(exc.status_code, {"content-type": "application/problem+json"}, b"{}")


async def run(store: MongoStore, clock: FakeClock, fp: str, handler: Any) -> StoredResponse:
    return await idempotency.execute(
        store.idempotency, "global", "k", fp, clock.now, POLICY, handler, problem
    )


def record(clock: FakeClock, lease: str = "t1", scope: str = "global") -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=scope,
        key="k",
        fingerprint="fp",
        state=KeyState.IN_PROGRESS,
        lease_token=lease,
        lease_expires_at=clock.now + timedelta(seconds=30),
        expires_at=clock.now + timedelta(hours=24),
    )


async def test_one_claim_wins_per_scope_and_key_and_the_rest_read_the_winner(
    store: MongoStore, clock: FakeClock
) -> None:
    mine = record(clock)
    assert await store.idempotency.claim(mine) is None
    assert await store.idempotency.claim(replace(mine, lease_token="t2")) == mine
    assert await store.idempotency.claim(record(clock, "t3", scope="other")) is None


async def test_the_lease_token_guards_completing_and_taking_over(
    store: MongoStore, clock: FakeClock
) -> None:
    mine = record(clock)
    await store.idempotency.claim(mine)
    taken = replace(mine, lease_token="t2", lease_expires_at=clock.now + timedelta(minutes=1))
    assert not await store.idempotency.replace_if_token("wrong", taken)
    assert await store.idempotency.replace_if_token("t1", taken)
    assert not await store.idempotency.complete(mine, OK)  # the old holder is locked out
    assert await store.idempotency.complete(taken, OK)
    found = await store.idempotency.claim(replace(mine, lease_token="t9"))
    assert found is not None
    assert (found.state, found.response, found.lease_token) == (KeyState.COMPLETED, OK, "t2")


async def test_a_released_key_is_free_again_but_only_its_holder_releases_it(
    store: MongoStore, clock: FakeClock
) -> None:
    mine = record(clock)
    await store.idempotency.claim(mine)
    await store.idempotency.release(replace(mine, lease_token="not-mine"))
    assert await store.idempotency.claim(record(clock, "t2")) == mine
    await store.idempotency.release(mine)
    assert await store.idempotency.claim(record(clock, "t3")) is None


async def test_a_5xx_releases_the_key_so_the_retry_executes_again(
    store: MongoStore, clock: FakeClock
) -> None:
    calls = []

    async def crash(_: idempotency.Claim) -> StoredResponse:
        calls.append("crash")
        raise RuntimeError("database went away")

    async def succeed(_: idempotency.Claim) -> StoredResponse:
        calls.append("ok")
        return OK

    with pytest.raises(RuntimeError):
        await run(store, clock, "fp", crash)
    assert await run(store, clock, "fp", succeed) == OK
    assert calls == ["crash", "ok"]


async def test_a_handler_4xx_is_recorded_and_replayed(store: MongoStore, clock: FakeClock) -> None:
    calls = []

    async def conflict(_: idempotency.Claim) -> StoredResponse:
        calls.append(1)
        raise OrderExists("taken")

    first = await run(store, clock, "fp", conflict)
    again = await run(store, clock, "fp", conflict)
    assert first.status == 409
    assert again.body == first.body
    assert again.headers[idempotency.REPLAYED_HEADER] == "true"
    assert calls == [1]


async def test_in_flight_then_mismatch_then_takeover(store: MongoStore, clock: FakeClock) -> None:
    claim = await idempotency.begin(store.idempotency, "global", "k", "fp", clock.now, POLICY)
    assert isinstance(claim, idempotency.Claim)
    with pytest.raises(IdempotencyInProgress):
        await idempotency.begin(store.idempotency, "global", "k", "fp", clock.now, POLICY)
    with pytest.raises(IdempotencyKeyReused):
        await idempotency.begin(store.idempotency, "global", "k", "other", clock.now, POLICY)
    clock.advance(seconds=30)
    taken = await idempotency.begin(store.idempotency, "global", "k", "fp", clock.now, POLICY)
    assert isinstance(taken, idempotency.Claim)
    assert taken.took_over
    # The dead holder can no longer complete: its lease token is gone.
    assert not await store.idempotency.complete(claim.record, OK)


async def test_an_expired_record_counts_as_absent_even_before_the_database_removes_it(
    store: MongoStore, clock: FakeClock
) -> None:
    """The record is still there (the clock is years ahead of the TTL monitor's)."""
    assert await run(store, clock, "fp", _answer(OK)) == OK
    clock.advance(hours=24)
    other = StoredResponse(201, {"content-type": "application/json"}, b'{"ok":"again"}')
    assert await run(store, clock, "another body", _answer(other)) == other  # not a mismatch


def _answer(response: StoredResponse) -> Any:
    async def handler(_: idempotency.Claim) -> StoredResponse:
        return response

    return handler


async def test_a_claim_refused_and_then_released_each_time_is_never_taken_without_a_record(
    store: MongoStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two refused inserts whose winners released the key before it could be read: the
    claim reports its own record as the one found, which reads as held (a 409 to retry)."""
    keys = store.idempotency

    async def refused(doc: dict[str, Any]) -> bool:
        return False

    async def released(query: dict[str, Any]) -> None:
        return None

    monkeypatch.setattr(keys._inserts, "submit", refused)
    monkeypatch.setattr(keys.collection, "find_one", released)
    mine = record(clock)
    assert await keys.claim(mine) == mine
    with pytest.raises(IdempotencyInProgress):
        await idempotency.begin(keys, "global", "k", "fp", clock.now, POLICY)
