"""A database outage leaves the store as `StoreUnavailable`, never as a driver error."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError

from payflow.store.base import StoreUnavailable
from payflow.store.mongo.outages import translating_outages

pytestmark = pytest.mark.anyio


@translating_outages
class Collections:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def read(self, key: str) -> str:
        raise self.error

    async def echo(self, key: str) -> str:
        return key


@pytest.mark.parametrize(
    "outage", [ServerSelectionTimeoutError("no server"), AutoReconnect("gone")]
)
async def test_an_outage_raises_store_unavailable_caused_by_the_driver_error(
    outage: Exception,
) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await Collections(outage).read("k")
    assert raised.value.__cause__ is outage


async def test_other_driver_errors_and_results_pass_through_unchanged() -> None:
    refused = DuplicateKeyError("E11000")
    with pytest.raises(DuplicateKeyError):
        await Collections(refused).read("k")
    assert await Collections(refused).echo("k") == "k"
