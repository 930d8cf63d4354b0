"""One real embedded MongoDB-wire server for the whole session; a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from payflow.config import Settings
from payflow.store.embedded import MEMORY, start, stop
from tests.support import make_settings


@pytest.fixture(scope="session")
def embedded_uri() -> Iterator[str]:
    server = start(MEMORY)
    try:
        yield server.uri
    finally:
        stop(server)


@pytest.fixture
async def mongo_db(embedded_uri: str) -> AsyncIterator[Any]:
    client: Any = AsyncIOMotorClient(embedded_uri, tz_aware=True)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def db_settings(embedded_uri: str, mongo_db: Any) -> Settings:
    """Settings that make an app connect to `mongo_db` itself (its own client, its own loop)."""
    return make_settings(mongo__uri=embedded_uri, mongo__database=mongo_db.name)
