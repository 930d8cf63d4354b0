"""One store contract, every backend: what payflow relies on from `store/base.py`'s
protocols, held to mongomock (the unit tests' database), the embedded server and a
MongoDB replica set alike, as saq runs one suite against every queue backend.

Each test module carries `EVERY_BACKEND` (tests/contract/__init__.py); each test gets an
empty database of its own on the `backend` it is parametrised with (`[mongomock]`,
`[embedded]`, `[mongod-rs]`), with payflow's indexes, and uses the store's public
methods (a test that fakes a crash reads or writes the `database` itself). A behaviour
that differs between them fails here first.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from payflow.store.mongo import MongoStore
from payflow.store.mongo.client import CLIENT_OPTIONS


@pytest.fixture
async def database(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """An empty database of `backend` (``contract_<hex>`` on a real server, dropped after)."""
    if backend == "mongomock":
        yield request.getfixturevalue("mock_db")
        return
    uri: str = request.getfixturevalue("database_uri")
    client: Any = AsyncIOMotorClient(uri, **CLIENT_OPTIONS)
    name = f"contract_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
async def store(backend: str, database: Any) -> MongoStore:
    """payflow's store on `database`, indexes made, as the app has it."""
    built = MongoStore(database, replicated=backend == "mongod-rs")
    await built.ensure_indexes()
    return built
