"""The embedded database process: starting, watching and stopping `python -m secantus`.

Why a child process: SecantusDB (PyPI ``secantusdb``) is a MongoDB-wire-compatible
server on WiredTiger. It is GPL-2.0, so payflow (MIT) never imports it: it is an
optional dependency that runs as a separate program, ``python -m secantus``, and
payflow talks to it exactly as it talks to a real ``mongod`` — the real driver
(motor/pymongo) over a real socket, so the code under test is the production code,
and ``mongosh`` can connect to it to look around. With ``MONGO_URI`` set none of
this runs.

This package is everything about that child process (the store only ever sees its
URI). Its modules, one job each:

- `server`: what a running server is (`EmbeddedServer`: its process, port and URI).
- `launch`: one start-up: the command line, the log, choosing a port, and judging
  whether what answers on it is our child.
- `lifecycle`: `start`/`stop` (blocking) and `run_embedded` (async), the public entry
  points.
- `supervisor`: `run_supervised`, `run_embedded` kept alive: a child that died is
  started again on the same data and port, with backoff, until it will not (DESIGN §8).
- `stopping`: a stop that cannot be lost (SIGTERM, again, then SIGKILL).
- `storage_lock`: who holds the storage directory, for a clear error.
"""

from __future__ import annotations

from payflow.database_process.launch import free_port
from payflow.database_process.lifecycle import embedded_server, run_embedded, start, stop
from payflow.database_process.server import (
    CONFIG_NAME,
    LOG_NAME,
    MEMORY,
    EmbeddedServer,
    EmbeddedServerError,
)
from payflow.database_process.supervisor import Supervisor, run_supervised

__all__ = [
    "CONFIG_NAME",
    "LOG_NAME",
    "MEMORY",
    "EmbeddedServer",
    "EmbeddedServerError",
    "Supervisor",
    "embedded_server",
    "free_port",
    "run_embedded",
    "run_supervised",
    "start",
    "stop",
]
