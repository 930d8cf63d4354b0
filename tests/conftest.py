from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from mongomock_motor import AsyncMongoMockClient

from tests.support import FakeClock, app_client


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
