"""Stored work at scale without making it through the API: clones of what payflow wrote.

Making 100,000 orders through payflow takes longer than a whole bench run, so the
`payments` phase seeds them: a few hundred orders are made and paid through the API
(`make_order`), every document payflow wrote for each (the order with its job and the
response kept for its key, which is also the key's record, the event, the delivery with
its attempt log, the receipt) is read back (`read_templates`), and `seed` inserts clones of
them with `insert_many` until the database holds the wanted number of orders.

A store that payflow never opened has no indexes yet: `seed` inserts into bare collections
and `build_indexes` then builds payflow's own (`MongoStore.ensure_indexes`, what its start-up
would do), about twice as fast on the embedded server as inserting into indexed ones
(100,000 orders, under load: 44-67 s, then 54 s for the indexes). Either way the store ends
the same: the documents and every index payflow keeps.

A clone is a template's BSON with every name unique to it (order id, orderNumber, which
is also its idempotency key, event, delivery and receipt ids) replaced by a fresh one of
the same length (a clone's order id is random, not derived from its key: no replay of a
clone asks for it), so the bytes stay valid BSON, go to the server as they are
(`RawBSONDocument`) and keep the template's size; names inside the bodies (the event's
JSON, the response kept for replays, the Location header) change with them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bson
import httpx
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import OperationFailure

from payflow.ids import token
from payflow.store.mongo import MongoStore
from payflow.store.mongo.client import open_client

# Where payflow keeps what one paid order leads to (a receipt lives in `payments`).
# A create's key has no record of its own: its order keeps the key's use.
COLLECTIONS = ("orders", "events", "deliveries", "payments")
CHUNK = 1000  # documents per insert_many
NUMBER_DIGITS = 7  # template and clone orderNumbers: <prefix>T0000001, <prefix>S0000001
_ID = re.compile(r"^([a-z]+_)([0-9a-f]+)$")


@dataclass(frozen=True)
class Template:
    """One order payflow made and paid: each collection's document as BSON, and the names
    (as bytes) a clone replaces."""

    blobs: dict[str, bytes]
    names: tuple[bytes, ...]  # orderNumber first, then ids


def template_number(prefix: str, n: int) -> str:
    return f"{prefix}T{n:0{NUMBER_DIGITS}d}"


def clone_number(prefix: str, n: int) -> str:
    return f"{prefix}S{n:0{NUMBER_DIGITS}d}"


def make_order(client: httpx.Client, number: str) -> None:
    """Create one order through the API, due at once, with `number` as its orderNumber and
    its Idempotency-Key (so a clone has one name to change for both)."""
    made = client.post(
        "/api/orders",
        headers={"Idempotency-Key": number},
        json={"orderNumber": number, "amount": 149.99, "currency": "USD", "processingDelayMs": 0},
    )
    if made.status_code != 201:
        raise RuntimeError(f"order to clone {number}: {made.status_code} {made.text}")


def read_templates(db: Database[dict[str, Any]], numbers: list[str]) -> list[Template]:
    """Every document payflow wrote for each Paid order of `numbers`, as templates."""
    orders = list(db.orders.find({"orderNumber": {"$in": numbers}, "status": "Paid"}))
    events = _by(db.events.find({"orderNumber": {"$in": numbers}}), "orderNumber")
    event_ids = [e["_id"] for e in events.values()]
    deliveries = _by(db.deliveries.find({"eventId": {"$in": event_ids}}), "eventId")
    receipts = _by(
        db.payments.find({"eventKey": {"$in": event_ids}, "outcome": "applied"}), "eventKey"
    )
    templates = []
    for order in orders:
        event = events.get(order["orderNumber"])
        if event is None or order["idempotency"]["key"] != order["orderNumber"]:
            continue
        found = {
            "orders": order,
            "events": event,
            "deliveries": deliveries.get(event["_id"]),
            "payments": receipts.get(event["_id"]),
        }
        docs = {c: doc for c, doc in found.items() if doc is not None}
        if len(docs) < len(COLLECTIONS):
            continue  # not all written yet (a delivery under way): not a whole template
        ids = [docs[c]["_id"] for c in ("orders", "events", "deliveries", "payments")]
        templates.append(
            Template(
                blobs={c: bson.encode(doc) for c, doc in docs.items()},
                names=tuple(name.encode() for name in [order["orderNumber"], *ids]),
            )
        )
    return templates


def _by(found: Any, field: str) -> dict[str, dict[str, Any]]:
    return {doc[field]: doc for doc in found}


def clone(template: Template, prefix: str, n: int) -> dict[str, RawBSONDocument]:
    """The `n`th clone of `template`: same documents, fresh names of the same lengths."""
    number, *ids = template.names
    fresh = [(number, clone_number(prefix, n).encode())]
    fresh += [(old, _fresh_id(old)) for old in ids]
    out = {}
    for collection, blob in template.blobs.items():
        for old, new in fresh:
            blob = blob.replace(old, new)
        out[collection] = RawBSONDocument(blob)
    return out


def _fresh_id(old: bytes) -> bytes:
    match = _ID.match(old.decode())
    if match is None:
        raise ValueError(f"not a payflow id: {old!r}")
    prefix, digits = match.groups()
    return f"{prefix}{token(len(digits) * 4)}".encode()


def seed(
    db: Database[dict[str, Any]],
    templates: list[Template],
    prefix: str,
    first: int,
    count: int,
    deadline: float,
    progress: Callable[[str], None],
) -> int:
    """Insert clones `first` … `first + count - 1` (templates in turn), a chunk at a time
    until the monotonic `deadline`; how many were inserted."""
    if not templates:
        raise RuntimeError("no whole template to clone: were the template orders paid?")
    done = 0
    while done < count and time.monotonic() < deadline:
        start = first + done
        stop = min(first + count, start + CHUNK)
        clones = [clone(templates[n % len(templates)], prefix, n) for n in range(start, stop)]
        for collection in COLLECTIONS:
            db[collection].insert_many([c[collection] for c in clones], ordered=False)
        done += stop - start
        progress(f"seeding: {done:,} of {count:,} orders stored")
    return done


def build_indexes(uri: str, database: str) -> None:
    """payflow's indexes on `database`, as its start-up builds them (blocking)."""

    async def build() -> None:
        client = open_client(uri)
        try:
            await MongoStore(client[database]).ensure_indexes()
        finally:
            client.close()

    asyncio.run(build())


def flush(client: MongoClient[dict[str, Any]]) -> str | None:
    """Have the server write everything seeded to disk now (`fsync`, a checkpoint), so that
    work does not stall the rounds measured next (seen: creates with p90 1.2 s right after
    100,000 orders were seeded and indexed, p90 68 ms a minute later); why not, if refused."""
    try:
        client.admin.command("fsync")
    except OperationFailure as exc:  # e.g. a hosted server that allows no fsync
        return str(exc)[:200]
    return None
