"""The one way payflow opens a MongoDB client, so every process uses the same options.

The benchmark's floor endpoints open theirs here too: a ratio against a floor then
measures payflow's own work, not a different pool size or timeout (DESIGN §6). The
embedded database's start-up asks `server_pid` whether its child answers yet, so the
driver stays in the store.

Outages: the client reconnects by itself when a server at the same address comes back
(the embedded server restarted by its supervisor, a `MONGO_URI` server restarted or
failed over). A failed operation marks the server unknown and clears its pool; each
operation then waits up to ``serverSelectionTimeoutMS`` (5 s) for a server, asking the
monitor to check at once and again every 0.5 s (pymongo's minimum heartbeat), not only
at the 10 s ``heartbeatFrequencyMS``. So a request made during a short outage waits and
succeeds; one that outlasts 5 s becomes `StoreUnavailable`, a 503 with Retry-After.
Measured on the embedded server under load: the restarted server answers ~1 s after the
SIGKILL and ``/health/ready`` is 200 again within 1-2.5 s.
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from payflow.store.base import StoreUnavailable

# motor's defaults otherwise (maxPoolSize 100); aware datetimes, since payflow stores UTC.
CLIENT_OPTIONS: dict[str, Any] = {"tz_aware": True, "serverSelectionTimeoutMS": 5000}


def open_client(uri: str) -> Any:
    """A motor client for `uri` (typed `Any`: motor ships no type information)."""
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(uri, **CLIENT_OPTIONS)


def server_pid(uri: str, timeout_seconds: float) -> int | None:
    """Blocking: the process id the server at `uri` reports once it answers `ping` (None
    if it reports none); `StoreUnavailable` while it does not answer yet."""
    timeout_ms = int(timeout_seconds * 1000)
    try:
        with MongoClient[dict[str, object]](
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
        ) as client:
            client.admin.command("ping")
            pid = client.admin.command("serverStatus").get("pid")
    except PyMongoError as exc:
        raise StoreUnavailable(str(exc)[:300]) from exc
    return pid if isinstance(pid, int) else None


async def on_a_replica_set(client: Any) -> bool:
    """Whether `client` talks to a replica set (its `hello` names one): then payflow's
    durable writes wait for a majority of the members (`common.REPLICATED`)."""
    hello = await client.admin.command("hello")
    return "setName" in hello
