"""A fresh database per test on a real server: the embedded one and a MongoDB replica set.

The servers are the session's (tests/conftest.py): child processes started
synchronously (no event loop is needed to own them), so they serve every
``@pytest.mark.anyio`` test whatever loop runs it. A test that takes `mongo_db` or
`db_settings` runs on each server (``[embedded]``, ``[mongod-rs]``) unless a
``backends`` marker narrows it. Every test under ``tests/integration`` gets the
``integration`` marker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase

from payflow.config import Settings
from tests.support import make_settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def db_settings(database_uri: str, mongo_db: AsyncIOMotorDatabase[dict[str, Any]]) -> Settings:
    """Settings that make an app connect to `mongo_db` itself (its own client, its own loop)."""
    return make_settings(mongo__uri=database_uri, mongo__database=mongo_db.name)
