"""Registered webhook endpoints (`endpoints`): one document each, secrets included.

The secrets are stored as given, because the sender needs them to sign; the API
shows a secret only in the response that created it. A rotation rewrites the
configuration under a compare-and-set on `version`, so two concurrent rotations
cannot both keep the secret they saw as current.

An endpoint's health (circuit, failures, recovery lease: `domain.endpoint_health`) is
the `health` sub-document, changed only under a compare-and-set on `health.version`, so
every process sharing the database agrees on it and exactly one wins each transition.
The built-in endpoint is configured, not registered: its health lives in a document of
its own here (`_id` "we_default", `builtIn: true`), which every other read skips.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from payflow.domain.endpoint_health import Chaos, CircuitState, EndpointStatus, Health
from payflow.domain.endpoints import DEFAULT_ENDPOINT_ID, RegisteredEndpoint, SecretVersion
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

REGISTERED: dict[str, Any] = {"builtIn": {"$ne": True}}
HealthStep = Callable[[Health], Health | None]


@translating_outages
class MongoEndpointStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def insert(self, endpoint: RegisteredEndpoint) -> None:
        doc = _endpoint_doc(endpoint)
        doc["health"] = _health_doc(endpoint.health)
        if endpoint.chaos.active:
            doc["chaos"] = _chaos_doc(endpoint.chaos)
        await self.collection.insert_one(doc)

    async def get(self, endpoint_id: str) -> RegisteredEndpoint | None:
        doc = await self.collection.find_one({"_id": endpoint_id, **REGISTERED})
        return None if doc is None else _endpoint(doc)

    async def all(self, limit: int) -> list[RegisteredEndpoint]:
        found = self.collection.find(REGISTERED).sort(
            [("createdAt", DESCENDING), ("_id", DESCENDING)]
        )
        # `limit` on the query, not only on `to_list`: mongomock-motor's ignores its length.
        return [_endpoint(doc) for doc in await found.limit(limit).to_list(limit)]

    async def count(self) -> int:
        return int(await self.collection.count_documents(REGISTERED))

    async def replace(self, endpoint: RegisteredEndpoint) -> bool:
        """The configuration only: the health beside it keeps its own compare-and-set."""
        result = await self.collection.update_one(
            {"_id": endpoint.id, "version": endpoint.version - 1, **REGISTERED},
            {"$set": _endpoint_doc(endpoint)},
        )
        return bool(result.modified_count == 1)

    async def delete(self, endpoint_id: str) -> bool:
        result = await self.collection.delete_one({"_id": endpoint_id, **REGISTERED})
        return bool(result.deleted_count == 1)

    async def health(self, endpoint_id: str) -> Health | None:
        """The endpoint's stored health; None if there is no such endpoint."""
        doc = await self.collection.find_one({"_id": endpoint_id}, {"health": 1})
        return None if doc is None else _health(doc.get("health"))

    async def change_health(
        self, endpoint_id: str, step: HealthStep, seen: Health | None = None
    ) -> tuple[Health, Health] | None:
        """Apply `step` to the stored health under a compare-and-set, starting from `seen`
        (a caller's recent copy, saving a read) and re-reading after each lost race.
        (before, after) once written; None when `step` says there is nothing to do or
        the endpoint is gone."""
        health = seen
        while True:
            if health is None:
                health = await self.health(endpoint_id)
                if health is None:
                    return None
            changed = step(health)
            if changed is None:
                return None
            if await self._replace_health(endpoint_id, changed):
                return health, changed
            health = None

    async def _replace_health(self, endpoint_id: str, health: Health) -> bool:
        """Store `health` if the stored one is still at `health.version - 1` (CAS)."""
        previous = health.version - 1
        expected: Any = {"$in": [0, None]} if previous == 0 else previous  # None: never set
        result = await self.collection.update_one(
            {"_id": endpoint_id, "health.version": expected},
            {"$set": {"health": _health_doc(health)}},
        )
        return bool(result.modified_count == 1)

    async def built_in_health(self) -> Health:
        """The built-in endpoint's health, its document made on first use."""
        doc = await self.collection.find_one({"_id": DEFAULT_ENDPOINT_ID})
        if doc is None:
            with contextlib.suppress(DuplicateKeyError):  # another process made it: the same
                await self.collection.insert_one(
                    {"_id": DEFAULT_ENDPOINT_ID, "builtIn": True, "health": _health_doc(Health())}
                )
            return Health()
        return _health(doc.get("health"))


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


def _health_doc(health: Health) -> dict[str, Any]:
    return {
        "status": health.status.value,
        "circuit": health.circuit.value,
        "failures": health.failures,
        "failingSince": health.failing_since,
        "openUntil": health.open_until,
        "cooldownSeconds": health.cooldown_seconds,
        "draining": health.draining,
        "leaseOwner": health.lease_owner,
        "leaseUntil": health.lease_until,
        "disabledAt": health.disabled_at,
        "announcePending": health.announce_pending,
        "version": health.version,
    }


def _health(doc: Mapping[str, Any] | None) -> Health:
    if not doc:
        return Health()

    def when(name: str) -> Any:
        value = doc.get(name)
        return None if value is None else as_utc(value)

    return Health(
        status=EndpointStatus(doc.get("status", EndpointStatus.ENABLED)),
        circuit=CircuitState(doc.get("circuit", CircuitState.CLOSED)),
        failures=int(doc.get("failures", 0)),
        failing_since=when("failingSince"),
        open_until=when("openUntil"),
        cooldown_seconds=float(doc.get("cooldownSeconds", 0.0)),
        draining=bool(doc.get("draining", False)),
        lease_owner=doc.get("leaseOwner"),
        lease_until=when("leaseUntil"),
        disabled_at=when("disabledAt"),
        announce_pending=bool(doc.get("announcePending", False)),
        version=int(doc.get("version", 0)),
    )


def _chaos_doc(chaos: Chaos) -> dict[str, Any]:
    return {"duplicateRate": chaos.duplicate_rate, "reorderWindowMs": chaos.reorder_window_ms}


def _chaos(doc: Mapping[str, Any] | None) -> Chaos:
    if not doc:
        return Chaos()
    return Chaos(float(doc.get("duplicateRate", 0.0)), int(doc.get("reorderWindowMs", 0)))


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
        health=_health(doc.get("health")),
        chaos=_chaos(doc.get("chaos")),
    )
