"""One real embedded MongoDB-wire server for the whole session; a fresh database per test.

The server is a child process started synchronously (no event loop is needed to
own it), so it serves every ``@pytest.mark.anyio`` test whatever loop runs it.
Every test under ``tests/integration`` gets the ``integration`` marker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from payflow.config import Settings
from payflow.database_process import MEMORY, embedded_server
from tests.support import make_settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedded_uri() -> Iterator[str]:
    with embedded_server(MEMORY) as server:
        yield server.uri


@pytest.fixture
async def mongo_db(embedded_uri: str) -> AsyncIterator[AsyncIOMotorDatabase[dict[str, Any]]]:
    """A database of its own (``test_<hex>``), dropped afterwards."""
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(embedded_uri, tz_aware=True)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def db_settings(embedded_uri: str, mongo_db: AsyncIOMotorDatabase[dict[str, Any]]) -> Settings:
    """Settings that make an app connect to `mongo_db` itself (its own client, its own loop)."""
    return make_settings(mongo__uri=embedded_uri, mongo__database=mongo_db.name)
