"""The embedded SecantusDB server: the features payflow relies on, durability, stopping."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymongo
import pytest
from bson import Decimal128
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import DuplicateKeyError

from payflow.database_process import (
    CONFIG_NAME,
    LOG_NAME,
    MEMORY,
    EmbeddedServer,
    EmbeddedServerError,
    free_port,
    run_embedded,
    start,
    stop,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

Database = AsyncIOMotorDatabase[dict[str, Any]]
JOURNALED = WriteConcern(j=True)


@asynccontextmanager
async def database(server: EmbeddedServer, name: str = "payflow") -> AsyncIterator[Database]:
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(server.uri, tz_aware=True)
    try:
        yield client[name]
    finally:
        client.close()


async def test_answers_ping(mongo_db: Database) -> None:
    reply = await mongo_db.client.admin.command("ping")
    assert reply["ok"] == 1


async def test_decimal128_round_trips(mongo_db: Database) -> None:
    amount = Decimal("99999999.99")
    await mongo_db.orders.insert_one({"_id": "o1", "amount": Decimal128(amount)})
    found = await mongo_db.orders.find_one({"_id": "o1"})
    assert found is not None
    assert isinstance(found["amount"], Decimal128)
    assert found["amount"].to_decimal() == amount
    assert str(found["amount"]) == "99999999.99"


async def test_unique_index_rejects_a_duplicate(mongo_db: Database) -> None:
    await mongo_db.orders.create_index("orderNumber", unique=True)
    await mongo_db.orders.insert_one({"orderNumber": "ORD-1"})
    with pytest.raises(DuplicateKeyError):
        await mongo_db.orders.insert_one({"orderNumber": "ORD-1"})
    assert await mongo_db.orders.count_documents({}) == 1


async def test_find_one_and_update_upserts_and_returns_the_new_document(
    mongo_db: Database,
) -> None:
    idempotency = mongo_db.get_collection("idempotency", write_concern=JOURNALED)
    await idempotency.create_index([("scope", 1), ("key", 1)], unique=True)
    query = {"scope": "global", "key": "k1"}

    first = await idempotency.find_one_and_update(
        query,
        {"$setOnInsert": {"state": "in_progress"}, "$inc": {"hits": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    second = await idempotency.find_one_and_update(
        query,
        {"$setOnInsert": {"state": "other"}, "$inc": {"hits": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )

    assert first is not None
    assert second is not None
    assert (first["state"], first["hits"]) == ("in_progress", 1)
    assert (second["_id"], second["state"], second["hits"]) == (first["_id"], "in_progress", 2)


async def test_journaled_insert_is_acknowledged(mongo_db: Database) -> None:
    orders = mongo_db.get_collection("orders", write_concern=JOURNALED)
    result = await orders.insert_one({"orderNumber": "ORD-J"})
    assert result.acknowledged
    assert await orders.count_documents({"orderNumber": "ORD-J"}) == 1


async def test_ttl_index_can_be_created(mongo_db: Database) -> None:
    await mongo_db.idempotency.create_index("expiresAt", expireAfterSeconds=0)
    await mongo_db.idempotency.insert_one({"expiresAt": datetime(2036, 1, 1, tzinfo=UTC)})
    info = await mongo_db.idempotency.index_information()
    assert info["expiresAt_1"]["expireAfterSeconds"] == 0


async def test_data_survives_a_stop_and_a_restart(tmp_path: Path) -> None:
    storage = tmp_path / "db"
    async with run_embedded(storage) as server:
        async with database(server) as db:
            await db.orders.create_index("orderNumber", unique=True)
            await db.orders.insert_one({"orderNumber": "ORD-1", "amount": Decimal128("1.50")})
        # A second server on the same directory is refused at once, naming the first.
        with pytest.raises(EmbeddedServerError, match=rf"in use by process {server.process.pid}"):
            async with run_embedded(storage):
                pass
    assert server.process.returncode == 0  # a clean stop, not the SIGKILL fallback
    assert (storage / LOG_NAME).exists()
    assert (storage / CONFIG_NAME).exists()

    async with run_embedded(storage) as server, database(server) as db:
        found = await db.orders.find_one({"orderNumber": "ORD-1"}, {"_id": 0})
        assert found == {"orderNumber": "ORD-1", "amount": Decimal128("1.50")}
        with pytest.raises(DuplicateKeyError):  # the index came back too
            await db.orders.insert_one({"orderNumber": "ORD-1"})


async def test_journaled_writes_survive_sigkill(tmp_path: Path) -> None:
    storage = tmp_path / "db"
    count = 50
    async with run_embedded(storage) as server:
        async with database(server) as db:
            orders = db.get_collection("orders", write_concern=JOURNALED)
            for number in range(count):
                await orders.insert_one({"_id": number})
            await orders.find_one_and_update({"_id": "counter"}, {"$inc": {"n": 1}}, upsert=True)
        # The client is closed first only so that closing it does not wait for a
        # dead server; nothing it does flushes anything on the server.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    assert server.process.returncode == -signal.SIGKILL

    # WiredTiger.lock is still there, but its fcntl lock died with the process.
    assert (storage / "WiredTiger.lock").exists()
    async with run_embedded(storage) as server, database(server) as db:
        assert await db.orders.count_documents({"_id": {"$type": "int"}}) == count
        assert await db.orders.find_one({"_id": "counter"}) == {"_id": "counter", "n": 1}


def test_memory_server_leaves_nothing_behind() -> None:
    server = start(MEMORY)
    try:
        assert server.storage_path == MEMORY
        assert server.scratch_dir is not None
        with pymongo.MongoClient[dict[str, Any]](server.uri) as client:
            client.scratch.items.insert_one({"x": 1})
    finally:
        stop(server)
    assert not Path(server.scratch_dir).exists()
    stop(server)  # idempotent


def test_start_failure_reports_the_log() -> None:
    with pytest.raises(EmbeddedServerError, match="unrecognized arguments: --no-such-flag"):
        start(MEMORY, extra_args=["--no-such-flag"])


# A stand-in for a server whose first SIGTERM is lost (see the module docstring):
# it keeps accepting connections until a second SIGTERM arrives.
DEAF_ONCE = """
import signal, socket, sys
terms = []
signal.signal(signal.SIGTERM, lambda *_: terms.append(1) if not terms else sys.exit(0))
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    connection, _ = listener.accept()
    connection.close()
"""


def test_stop_repeats_a_lost_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", DEAF_ONCE, str(port)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == b"ready\n"
    stop(EmbeddedServer(process, "127.0.0.1", port, MEMORY))
    assert process.returncode == 0  # stopped by the second SIGTERM, not killed
