"""A fresh database per test on a real server: the embedded one and a MongoDB replica set.

The servers are the session's (tests/conftest.py): child processes started
synchronously (no event loop is needed to own them), so they serve every
``@pytest.mark.anyio`` test whatever loop runs it. A test that takes `mongo_db` or
`db_settings` runs on each server (``[embedded]``, ``[mongod-rs]``) unless a
``backends`` marker narrows it. Every test under ``tests/integration`` gets the
``integration`` marker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from payflow.config import Settings
from payflow.store.mongo.client import CLIENT_OPTIONS
from tests.support import make_settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def mongo_db(database_uri: str) -> AsyncIterator[AsyncIOMotorDatabase[dict[str, Any]]]:
    """A database of its own (``test_<hex>``), dropped afterwards."""
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(database_uri, **CLIENT_OPTIONS)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def db_settings(database_uri: str, mongo_db: AsyncIOMotorDatabase[dict[str, Any]]) -> Settings:
    """Settings that make an app connect to `mongo_db` itself (its own client, its own loop)."""
    return make_settings(mongo__uri=database_uri, mongo__database=mongo_db.name)
