"""Webhook endpoints on the real servers: shared between processes. How the store keeps
them (round trip, CAS on the version) is in tests/contract/test_endpoints.py."""

from __future__ import annotations

from typing import Any

import pytest

from payflow.config import Settings
from tests.support import FakeClock, app_client, order_body
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROUTE = "/api/webhook-endpoints"


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
