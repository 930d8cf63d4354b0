"""The payment job that lives on a document (orders and refunds alike).

A document that is work to do carries `processing`: `{state, dueAt, attempts}` while
queued, plus `owner` and `leaseExpiresAt` while a worker holds it, plus `doneAt` once
done (the states: `domain.jobs.JobState`). Creating the document and enqueueing its job
is then one atomic insert. What follows is the same for every kind of job: which ones
may be taken, which are due, the fields a claim and a finish set, and giving a stopping
worker's leases back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from payflow.domain.jobs import JobState
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection


def queued(due_at: datetime) -> dict[str, Any]:
    """The `processing` field of a document whose job is waiting for `due_at`."""
    return {"state": JobState.QUEUED, "dueAt": due_at, "attempts": 0}


def claimable(now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two ways a job can be taken: queued and due, or leased and the lease expired.

    Two filters tried in turn, never one `$or`: servers (the embedded one among them) then
    skip the `_id` index and every claim becomes a collection scan."""
    return (
        {"processing.state": JobState.QUEUED, "processing.dueAt": {"$lte": now}},
        {"processing.state": JobState.PROCESSING, "processing.leaseExpiresAt": {"$lte": now}},
    )


def held_by(owner: str) -> dict[str, Any]:
    """The filter of a job `owner` holds now."""
    return {"processing.state": JobState.PROCESSING, "processing.owner": owner}


def lease(owner: str, until: datetime) -> dict[str, Any]:
    """`$set` fields that give the job to `owner` until `until`."""
    return {
        "processing.state": JobState.PROCESSING,
        "processing.owner": owner,
        "processing.leaseExpiresAt": until,
    }


def finished(now: datetime) -> dict[str, Any]:
    """The update that marks a held job done."""
    return {
        "$set": {"processing.state": JobState.DONE, "processing.doneAt": now},
        "$unset": {"processing.owner": "", "processing.leaseExpiresAt": ""},
    }


async def due(collection: Collection, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """Up to `limit` jobs that may be taken now, with when each fell due: one indexed
    query per way of being claimable."""
    found_due: list[tuple[str, datetime]] = []
    for claimable_now in claimable(now):
        if len(found_due) >= limit:
            break
        found = collection.find(claimable_now, {"processing.dueAt": 1})
        found_due += [
            (doc["_id"], as_utc(doc["processing"]["dueAt"]))
            async for doc in found.limit(limit - len(found_due))
        ]
    return found_due


async def release_leases(collection: Collection, owner: str, now: datetime) -> int:
    """Give every job `owner` holds back to the queue, due at once (a graceful stop)."""
    result = await collection.update_many(
        held_by(owner),
        {
            "$set": {"processing.state": JobState.QUEUED, "processing.dueAt": now},
            "$unset": {"processing.owner": "", "processing.leaseExpiresAt": ""},
        },
    )
    return int(result.modified_count)
