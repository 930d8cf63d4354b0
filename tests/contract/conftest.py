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

from typing import Any

import pytest

from payflow.store.mongo import MongoStore


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> Any:
    """An empty database of `backend`: on a real server one of its own, dropped after
    (`mock_db` and `mongo_db`: tests/conftest.py)."""
    return request.getfixturevalue("mock_db" if backend == "mongomock" else "mongo_db")


@pytest.fixture
async def store(backend: str, database: Any) -> MongoStore:
    """payflow's store on `database`, indexes made, as the app has it."""
    built = MongoStore(database, replicated=backend == "mongod-rs")
    await built.ensure_indexes()
    return built
