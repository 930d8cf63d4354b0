"""Registered webhook endpoints: stored as given, listed newest first, rotated by a
compare-and-set on their version, deleted once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from payflow.domain.endpoints import RegisteredEndpoint, SecretVersion
from payflow.store.mongo import MongoStore
from tests.contract import EVERY_BACKEND
from tests.support import START

pytestmark = [pytest.mark.anyio, EVERY_BACKEND]


def registered(version: int = 1) -> RegisteredEndpoint:
    return RegisteredEndpoint(
        id="we_1",
        url="http://127.0.0.1:9/hooks",
        scheme="stripe",
        events=("payment.succeeded",),
        description="shop",
        secrets=(SecretVersion("whsec_new"), SecretVersion("whsec_old", START)),
        created_at=START,
        updated_at=START,
        version=version,
    )


async def test_endpoints_round_trip_and_list_newest_first(store: MongoStore) -> None:
    later = replace(registered(), id="we_2", created_at=START + timedelta(seconds=1))
    await store.endpoints.insert(registered())
    await store.endpoints.insert(later)
    assert await store.endpoints.get("we_1") == registered()
    assert await store.endpoints.get("we_9") is None
    assert await store.endpoints.all(10) == [later, registered()]
    assert await store.endpoints.all(1) == [later]
    assert await store.endpoints.count() == 2


async def test_replace_is_a_compare_and_set_on_the_version(store: MongoStore) -> None:
    await store.endpoints.insert(registered())
    now = START + timedelta(hours=1)
    first = registered().rotated("whsec_a", now, timedelta(hours=24))
    second = registered().rotated("whsec_b", now, timedelta(hours=24))  # from the same read
    assert await store.endpoints.replace(first)
    assert not await store.endpoints.replace(second)
    stored = await store.endpoints.get("we_1")
    assert stored is not None
    assert stored.active_secrets(now) == ["whsec_a", "whsec_new"]
    assert await store.endpoints.delete("we_1")
    assert not await store.endpoints.delete("we_1")
    assert await store.endpoints.count() == 0
