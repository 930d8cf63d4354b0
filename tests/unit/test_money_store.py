"""The money store on mongomock: customers, wallet movements, saved cards (DESIGN §7).

The cases live in tests/money_store_cases.py and run on the real server too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.money_store_cases import *  # noqa: F403 - the cases, collected here

pytestmark = pytest.mark.anyio


@pytest.fixture
def money_db(mock_db: Any) -> Any:
    return mock_db
