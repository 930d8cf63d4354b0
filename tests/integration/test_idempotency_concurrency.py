"""Idempotency and uniqueness with many requests at once, on the real embedded server.

The test client here hands requests to the app one after another; the bursts whose
requests really overlap (fifty at once, straight over ASGI) are in
tests/adversarial/test_idempotency_model.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import httpx
import pytest
from pymongo.errors import DuplicateKeyError

from payflow.config import Settings
from payflow.domain.orders import keyed_order_id
from payflow.store.base import GLOBAL_SCOPE
from tests.support import app_client, order_body

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

BURST = 50


async def burst(client: Any, requests: list[tuple[str, bytes]]) -> list[httpx.Response]:
    responses: list[httpx.Response] = []

    async def send(key: str, body: bytes) -> None:
        responses.append(
            await client.post("/api/orders", headers={"Idempotency-Key": key}, content=body)
        )

    async with anyio.create_task_group() as tasks:
        for key, body in requests:
            tasks.start_soon(send, key, body)
    return responses


async def test_one_key_fifty_times_creates_one_order(mongo_db: Any, db_settings: Settings) -> None:
    async with app_client(None, settings=db_settings) as client:
        responses = await burst(client, [("same-key", order_body())] * BURST)
        assert await mongo_db.orders.count_documents({}) == 1
        created = [r for r in responses if r.status_code == 201]
        in_flight = [r for r in responses if r.status_code == 409]
        assert len(created) + len(in_flight) == BURST
        assert len({r.content for r in created}) == 1  # the one stored response
        assert sum("idempotent-replayed" not in r.headers for r in created) == 1
        for response in in_flight:
            assert response.json()["type"].endswith("/idempotency-in-progress")
            assert response.headers["retry-after"] == "1"


async def test_fifty_keys_one_order_number_creates_one_order(
    mongo_db: Any, db_settings: Settings
) -> None:
    async with app_client(None, settings=db_settings) as client:
        responses = await burst(client, [(f"key-{n}", order_body()) for n in range(BURST)])
        assert await mongo_db.orders.count_documents({}) == 1
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: BURST - 1}
        for response in responses:
            if response.status_code == 409:
                assert response.json()["type"].endswith("/order-exists")


async def test_indexes_enforce_uniqueness_and_retention(
    mongo_db: Any, db_settings: Settings
) -> None:
    async with app_client(None, settings=db_settings):
        orders = await mongo_db.orders.index_information()
        # Unique per scope (API key), not across them (docs/decisions.md).
        assert any(
            i.get("unique") and i["key"] == [("orderNumber", 1), ("scope", 1)]
            for i in orders.values()
        )
        keys = await mongo_db.idempotency.index_information()
        # The key's uniqueness is the `_id` ("<scope> <key>"); a second index would only
        # cost every write (docs/decisions.md).
        assert not any(i["key"] == [("scope", 1), ("key", 1)] for i in keys.values())
        assert any(i.get("expireAfterSeconds") == 0 for i in keys.values())
        await mongo_db.idempotency.insert_one({"_id": "global k1"})
        with pytest.raises(DuplicateKeyError):
            await mongo_db.idempotency.insert_one({"_id": "global k1"})


async def test_an_older_databases_scope_and_key_index_is_dropped(
    mongo_db: Any, db_settings: Settings
) -> None:
    await mongo_db.idempotency.create_index([("scope", 1), ("key", 1)], unique=True)
    async with app_client(None, settings=db_settings):
        keys = await mongo_db.idempotency.index_information()
        assert "scope_1_key_1" not in keys


async def test_amounts_are_stored_as_decimal128_and_integer_minor_units(
    mongo_db: Any, db_settings: Settings
) -> None:
    from bson import Decimal128

    async with app_client(None, settings=db_settings) as client:
        await client.post("/api/orders", headers={"Idempotency-Key": "k"}, content=order_body())
        doc = await mongo_db.orders.find_one({"orderNumber": "ORD-67890"})
        assert doc["amount"] == Decimal128("149.99")
        assert doc["amountMinor"] == 14999


async def test_a_create_keeps_its_response_on_the_order_and_replays_it(
    mongo_db: Any, db_settings: Settings
) -> None:
    """A create writes one document: its order, whose id the key gives, keeps the key's use
    and the answer; no key record is written."""
    async with app_client(None, settings=db_settings) as client:
        headers = {"Idempotency-Key": "kept"}
        first = await client.post("/api/orders", headers=headers, content=order_body())
        assert await mongo_db.idempotency.count_documents({}) == 0
        order = await mongo_db.orders.find_one({"orderNumber": "ORD-67890"})
        assert order["_id"] == keyed_order_id(GLOBAL_SCOPE, "kept", 0) == first.json()["id"]
        kept = order["idempotency"]
        assert (kept["key"], kept["response"]["status"]) == ("kept", 201)
        assert bytes(kept["response"]["body"]) == first.content
        replays = await burst(client, [("kept", order_body())] * 10)
        assert {(r.status_code, r.content) for r in replays} == {(201, first.content)}
        assert all(r.headers["idempotent-replayed"] == "true" for r in replays)
        assert replays[0].headers["location"] == first.headers["location"]
