"""Fixtures every layer may use: the event loop, a fake clock, mongomock, and the real
servers (the embedded one and a MongoDB replica set), each started once per session.

A test that asks for `backend` (directly, or through `database_uri` and the fixtures
built on it) runs once per real server: `embedded` (SecantusDB, payflow's default) and
`mongod-rs` (three `mongod` 6.0.5 members, tests/replica_set.py). The marker
`@pytest.mark.backends("embedded")` narrows that to the servers named, for a test that
is about one of them or gains nothing from running twice; `mongomock` may be named too
(tests/contract runs on all three). A server no selected test needs is never started.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from mongomock_motor import AsyncMongoMockClient
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from payflow.database_process import MEMORY, embedded_server
from payflow.store.mongo.client import CLIENT_OPTIONS
from tests.replica_set import ReplicaSet, replica_set
from tests.support import FakeClock, app_client

BACKENDS = ("embedded", "mongod-rs")  # the real servers: every `backend` test's default
KNOWN_BACKENDS = ("mongomock", *BACKENDS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): the real servers a test runs on (default: all of "
        f"{', '.join(BACKENDS)})",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    names = marker.args if marker is not None else BACKENDS
    unknown = set(names) - set(KNOWN_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backends {sorted(unknown)}; known: {KNOWN_BACKENDS}")
    metafunc.parametrize("backend", names, scope="session")


@pytest.fixture(scope="session")
def embedded_uri() -> Iterator[str]:
    """One embedded server (in memory) for the whole session."""
    with embedded_server(MEMORY) as server:
        yield server.uri


@pytest.fixture(scope="session")
def mongod_replica_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Three `mongod` members on loopback for the whole session, stopped at its end."""
    with replica_set(tmp_path_factory.mktemp("mongod-rs")) as started:
        yield started


@pytest.fixture(scope="session")
def database_uri(backend: str, request: pytest.FixtureRequest) -> str:
    """The URI of the session's server of this `backend`, started on first use."""
    assert backend in BACKENDS, f"{backend} is not a server"
    if backend == "embedded":
        uri: str = request.getfixturevalue("embedded_uri")
        return uri
    started: ReplicaSet = request.getfixturevalue("mongod_replica_set")
    return started.uri


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
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_db() -> Any:
    """A mongomock database: fast, for behaviour that does not depend on the real server."""
    return AsyncMongoMockClient(tz_aware=True)["payflow"]


@pytest.fixture
async def client(mock_db: Any, clock: FakeClock) -> AsyncIterator[AsyncTestClient[Any]]:
    async with app_client(mock_db, clock=clock) as test_client:
        yield test_client
