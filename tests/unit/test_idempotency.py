"""The key state machine in isolation (DESIGN §1.1), on mongomock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow import idempotency
from payflow.errors import IdempotencyInProgress, IdempotencyKeyReused, OrderExists
from payflow.store.base import StoredResponse
from payflow.store.mongo import MongoStore
from tests.support import FakeClock

pytestmark = pytest.mark.anyio
POLICY = idempotency.Policy(timedelta(hours=24), timedelta(seconds=30), 1)
OK = StoredResponse(201, {"content-type": "application/json"}, b'{"ok":true}')


def problem(exc: Any) -> StoredResponse:
    return StoredResponse(exc.status_code, {"content-type": "application/problem+json"}, b"{}")


async def run(store: MongoStore, clock: FakeClock, fp: str, handler: Any) -> StoredResponse:
    return await idempotency.execute(
        store.idempotency, "global", "k", fp, clock.now, POLICY, handler, problem
    )


async def test_a_5xx_releases_the_key_so_the_retry_executes_again(mock_db: Any) -> None:
    store, clock, calls = MongoStore(mock_db), FakeClock(), []

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


async def test_a_handler_4xx_is_recorded_and_replayed(mock_db: Any) -> None:
    store, clock, calls = MongoStore(mock_db), FakeClock(), []

    async def conflict(_: idempotency.Claim) -> StoredResponse:
        calls.append(1)
        raise OrderExists("taken")

    first = await run(store, clock, "fp", conflict)
    again = await run(store, clock, "fp", conflict)
    assert first.status == 409
    assert again.body == first.body
    assert again.headers[idempotency.REPLAYED_HEADER] == "true"
    assert calls == [1]


async def test_in_flight_then_mismatch_then_takeover(mock_db: Any) -> None:
    store, clock = MongoStore(mock_db), FakeClock()
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


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(st.integers(), st.decimals(allow_nan=False, allow_infinity=False), st.text()),
        max_size=5,
    )
)
def test_fingerprint_ignores_key_order_and_number_spelling(body: dict[str, Any]) -> None:
    reordered = dict(reversed(list(body.items())))
    respelled = {
        k: (Decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v)
        for k, v in reordered.items()
    }
    expected = idempotency.fingerprint("POST", "/api/orders", body)
    assert idempotency.fingerprint("POST", "/api/orders", respelled) == expected
    assert idempotency.fingerprint("POST", "/api/other", body) != expected
