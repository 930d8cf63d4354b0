"""Webhook endpoints on the real server: stored, rotated under CAS, and shared between processes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from payflow.config import Settings
from payflow.domain.endpoints import RegisteredEndpoint, SecretVersion
from payflow.store.mongo import MongoStore
from tests.support import START, FakeClock, app_client, order_body
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROUTE = "/api/webhook-endpoints"


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


async def test_endpoint_round_trips_through_the_store(mongo_db: Any) -> None:
    store = MongoStore(mongo_db)
    await store.ensure_indexes()
    await store.endpoints.insert(registered())
    assert await store.endpoints.get("we_1") == registered()
    assert await store.endpoints.all(10) == [registered()]
    assert await store.endpoints.count() == 1


async def test_replace_is_a_compare_and_set_on_the_version(mongo_db: Any) -> None:
    store = MongoStore(mongo_db)
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


async def test_endpoint_registered_in_one_process_gets_events_from_another(
    mongo_db: Any, db_settings: Settings
) -> None:
    """Two apps on one database: the API of one, the worker of the other."""
    clock = FakeClock()
    async with (
        app_client(None, settings=db_settings, clock=clock) as api,
        app_client(None, settings=db_settings, clock=clock, run_worker=True) as worker,
    ):
        # The endpoint is this very payflow's receiver, so a delivery is visible as a receipt.
        body = b'{"url":"http://127.0.0.1:8000/api/webhooks/payments","scheme":"standard"}'
        created = await api.post(ROUTE, headers={"Idempotency-Key": "ep"}, content=body)
        assert created.status_code == 201
        endpoint_id = created.json()["id"]
        directory = worker.app_runtime.directory  # type: ignore[attr-defined]

        async def known_to_the_worker() -> bool:  # its directory refreshes on its own
            return any(e.id == endpoint_id for e in directory.endpoints())

        await eventually(known_to_the_worker, "the endpoint in the worker's directory")
        await api.post("/api/orders", headers={"Idempotency-Key": "o"}, content=order_body())

        async def attempted() -> list[dict[str, Any]] | None:
            deliveries: list[dict[str, Any]] = (
                await api.get(f"{ROUTE}/{endpoint_id}/deliveries")
            ).json()
            return deliveries if deliveries and deliveries[0]["state"] != "processing" else None

        [delivery] = await eventually(attempted, "the first attempt at the endpoint")
        assert delivery["log"][0]["statusCode"] == 401  # signed with its own secret, not ours
        assert delivery["state"] == "pending"  # so it will be retried
