"""Fault rules (`faults`): one document per rule, read by every process on the database.

Firing a rule is one conditional `$inc`: for a counted rule the filter wants
`remaining > 0`, so two processes that both chose the rule's last firing cannot both
have it (one update matches, the other finds nothing and lets its request through).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from payflow.domain.faults import FaultRule, parse_fault
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection


@translating_outages
class MongoFaultStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def insert(self, rule: FaultRule) -> None:
        # The id comes from the creating request's key: already there means a retry is
        # finishing the work of a holder that died after this insert.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(_rule_doc(rule))

    async def all(self, limit: int) -> list[FaultRule]:
        found = self.collection.find({}).sort([("createdAt", ASCENDING), ("_id", ASCENDING)])
        return [_rule(doc) for doc in await found.to_list(limit)]

    async def count(self) -> int:
        return int(await self.collection.count_documents({}))

    async def delete(self, rule_id: str) -> bool:
        result = await self.collection.delete_one({"_id": rule_id})
        return bool(result.deleted_count == 1)

    async def fire(self, rule: FaultRule) -> bool:
        if rule.count is None:
            query: dict[str, Any] = {"_id": rule.id}
            change: dict[str, Any] = {"$inc": {"injected": 1}}
        else:
            query = {"_id": rule.id, "remaining": {"$gt": 0}}
            change = {"$inc": {"injected": 1, "remaining": -1}}
        result = await self.collection.update_one(query, change)
        return bool(result.modified_count == 1)


def _rule_doc(rule: FaultRule) -> dict[str, Any]:
    return {
        "_id": rule.id,
        "method": rule.method,
        "path": rule.path,
        "fault": str(rule.fault),
        "rate": rule.rate,
        "count": rule.count,
        "remaining": rule.remaining,
        "injected": rule.injected,
        "createdAt": rule.created_at,
    }


def _rule(doc: Mapping[str, Any]) -> FaultRule:
    return FaultRule(
        id=doc["_id"],
        method=doc.get("method"),
        path=doc["path"],
        fault=parse_fault(doc["fault"]),
        rate=float(doc["rate"]),
        count=doc.get("count"),
        remaining=doc.get("remaining"),
        injected=int(doc.get("injected", 0)),
        created_at=as_utc(doc["createdAt"]),
    )
