"""Shared pieces of the MongoDB store: the journaled write concern, keyset cursors and
exact amounts (the collection types: `motor_types`; group commit: `journal`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bson import Decimal128
from pymongo import DESCENDING, WriteConcern

from payflow.store.base import InvalidCursor
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.motor_types import Collection

JOURNALED = WriteConcern(w=1, j=True)
# On a replica set a write is durable once a majority of the members has it in its journal:
# with w=1, a primary that dies before its secondaries copied a write takes it along (the
# new primary never had it), though a client was told it was saved. Nothing is staged
# there (`journal.staged`): each write waits for the majority.
REPLICATED = WriteConcern(w="majority", j=True)


def encode_cursor(created_at: datetime, doc_id: str) -> str:
    """Opaque keyset cursor: (createdAt, _id) of the last item of a page."""
    raw = f"{int(created_at.timestamp() * 1000)}:{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, doc_id = raw.split(":", 1)
        return datetime.fromtimestamp(int(millis) / 1000, UTC), doc_id
    except (ValueError, UnicodeDecodeError, OverflowError, OSError) as exc:
        raise InvalidCursor("cursor is not one payflow issued") from exc


def after_cursor(cursor: str | None, time_field: str) -> dict[str, Any]:
    """The query part selecting items after `cursor` in (time desc, _id desc) order."""
    if cursor is None:
        return {}
    moment, doc_id = decode_cursor(cursor)
    return {"$or": [{time_field: {"$lt": moment}}, {time_field: moment, "_id": {"$lt": doc_id}}]}


def bsonable(value: Any) -> Any:
    """Decimals become Decimal128 so stored documents keep exact amounts."""
    if isinstance(value, Decimal):
        return Decimal128(value)
    if isinstance(value, Mapping):
        return {str(k): bsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bsonable(v) for v in value]
    return value


async def newest_first(
    collection: Collection,
    query: dict[str, Any],
    limit: int,
    cursor: str | None,
    projection: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `query`'s documents by (createdAt, _id) descending, after `cursor`,
    and the cursor of the next page (None on the last one)."""
    found = collection.find({**query, **after_cursor(cursor, "createdAt")}, projection)
    docs = await found.sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).to_list(limit + 1)
    if len(docs) <= limit:
        return docs, None
    last = docs[limit - 1]
    return docs[:limit], encode_cursor(as_utc(last["createdAt"]), last["_id"])
