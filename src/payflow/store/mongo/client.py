"""The one way payflow opens a MongoDB client, so every process uses the same options.

The benchmark's floor endpoints open theirs here too: a ratio against a floor then
measures payflow's own work, not a different pool size or timeout (DESIGN §6).
"""

from __future__ import annotations

from typing import Any

# motor's defaults otherwise (maxPoolSize 100); aware datetimes, since payflow stores UTC.
CLIENT_OPTIONS: dict[str, Any] = {"tz_aware": True, "serverSelectionTimeoutMS": 5000}


def open_client(uri: str) -> Any:
    """A motor client for `uri` (typed `Any`: motor ships no type information)."""
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(uri, **CLIENT_OPTIONS)


async def on_a_replica_set(client: Any) -> bool:
    """Whether `client` talks to a replica set (its `hello` names one): then payflow's
    durable writes wait for a majority of the members (store/mongo/common.py)."""
    hello = await client.admin.command("hello")
    return "setName" in hello
