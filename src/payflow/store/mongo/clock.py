"""The test clock's time (`clock`): one document, so every process on a database agrees.

The document holds the frozen time as integer milliseconds since the epoch (`nowMs`):
an advance is one atomic `$inc`, so two advances from two processes add up instead of
one overwriting the other, and the time never goes backwards. A process reads it at
start-up and after each poll interval (`payflow.testclock.TestClock`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pymongo import ReturnDocument

from payflow.store.mongo.outages import translating_outages

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

CLOCK_ID = "test-clock"


@translating_outages
class MongoClockStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def start(self, at: datetime) -> datetime:
        """The stored time; `at` becomes it when the database has none yet."""
        doc = await self.collection.find_one_and_update(
            {"_id": CLOCK_ID},
            {"$setOnInsert": {"nowMs": _millis(at)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return _moment(doc["nowMs"])

    async def read(self) -> datetime | None:
        doc = await self.collection.find_one({"_id": CLOCK_ID})
        return None if doc is None else _moment(doc["nowMs"])

    async def advance(self, milliseconds: int) -> datetime:
        """Move the stored time on by `milliseconds`; the time after it."""
        doc = await self.collection.find_one_and_update(
            {"_id": CLOCK_ID},
            {"$inc": {"nowMs": milliseconds}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise LookupError("the test clock has not been started on this database")
        return _moment(doc["nowMs"])


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)
