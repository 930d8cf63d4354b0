"""Registered webhook endpoints (`endpoints`): one document each, secrets included.

The secrets are stored as given, because the sender needs them to sign; the API
shows a secret only in the response that created it. A rotation replaces the
document under a compare-and-set on `version`, so two concurrent rotations
cannot both keep the secret they saw as current.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING

from payflow.domain.endpoints import RegisteredEndpoint, SecretVersion
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.common import Collection


class MongoEndpointStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def insert(self, endpoint: RegisteredEndpoint) -> None:
        await self.collection.insert_one(_endpoint_doc(endpoint))

    async def get(self, endpoint_id: str) -> RegisteredEndpoint | None:
        doc = await self.collection.find_one({"_id": endpoint_id})
        return None if doc is None else _endpoint(doc)

    async def all(self, limit: int) -> list[RegisteredEndpoint]:
        found = self.collection.find({}).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
        # `limit` on the query, not only on `to_list`: mongomock-motor's ignores its length.
        return [_endpoint(doc) for doc in await found.limit(limit).to_list(limit)]

    async def count(self) -> int:
        return int(await self.collection.count_documents({}))

    async def replace(self, endpoint: RegisteredEndpoint) -> bool:
        result = await self.collection.replace_one(
            {"_id": endpoint.id, "version": endpoint.version - 1}, _endpoint_doc(endpoint)
        )
        return bool(result.modified_count == 1)

    async def delete(self, endpoint_id: str) -> bool:
        result = await self.collection.delete_one({"_id": endpoint_id})
        return bool(result.deleted_count == 1)


def _endpoint_doc(endpoint: RegisteredEndpoint) -> dict[str, Any]:
    return {
        "_id": endpoint.id,
        "url": endpoint.url,
        "scheme": endpoint.scheme,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "secrets": [{"secret": s.secret, "expiresAt": s.expires_at} for s in endpoint.secrets],
        "createdAt": endpoint.created_at,
        "updatedAt": endpoint.updated_at,
        "version": endpoint.version,
    }


def _endpoint(doc: Mapping[str, Any]) -> RegisteredEndpoint:
    return RegisteredEndpoint(
        id=doc["_id"],
        url=doc["url"],
        scheme=doc["scheme"],
        events=tuple(doc.get("events") or ()),
        description=doc.get("description"),
        secrets=tuple(
            SecretVersion(
                s["secret"], None if s.get("expiresAt") is None else as_utc(s["expiresAt"])
            )
            for s in doc.get("secrets", [])
        ),
        created_at=as_utc(doc["createdAt"]),
        updated_at=as_utc(doc["updatedAt"]),
        version=int(doc.get("version", 1)),
    )
