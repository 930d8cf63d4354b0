"""Serving an ASGI app factory with uvicorn: one process, or N worker processes on one port.

One process (the default) builds the app here with the settings it was given. With
more workers, uvicorn's supervisor starts N processes that each call the factory and
read their settings from the environment: what the command line changed travels as
`PAYFLOW_*` variables, and the embedded database is started once, by this parent, and
handed to every worker as `MONGO_URI`, so the workers are N payflow processes sharing
one database, which DESIGN §6 already requires to be safe (leases, the poller).

The benchmark's floor app is served through this module too, so a ratio against a
floor compares apps under the very same server options and worker count.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

from payflow.config import Settings

# The server options every payflow process runs with (and the benchmark's floors).
UVICORN_OPTIONS: dict[str, Any] = {
    "lifespan": "on",
    "log_config": None,
    "log_level": "warning",
    "access_log": False,
    "timeout_graceful_shutdown": 10,
}


def serve(
    factory: str, settings: Settings, build: Callable[[Settings], Any], workers: int = 1
) -> None:
    """Serve until stopped; `factory` is `build`'s import path (`module:function`)."""
    import uvicorn

    host, port = settings.server.host, settings.server.port
    if workers <= 1:
        config = uvicorn.Config(build(settings), host=host, port=port, **UVICORN_OPTIONS)
        _worker_first_server(config).run()
        return
    with _shared_database(settings) as uri:
        os.environ["PAYFLOW_SERVER__HOST"] = host
        os.environ["PAYFLOW_SERVER__PORT"] = str(port)
        if uri:
            os.environ["MONGO_URI"] = uri
        uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, **UVICORN_OPTIONS)


def _worker_first_server(config: Any) -> Any:
    """uvicorn's server, but payflow's worker is stopped before the listener closes.

    uvicorn closes its socket first and runs the app's shutdown last, so a worker still
    busy then would send its webhooks to its own receiver and find nobody listening (a
    failed attempt for every in-flight delivery, retried after the restart). Stopped
    first, its in-flight deliveries land within the grace period and the rest is handed
    back in the database. Apps without a worker (the benchmark's floors) are unaffected.
    """
    import uvicorn

    class WorkerFirst(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            runtime = getattr(getattr(self.config.app, "state", None), "runtime", None)
            worker = getattr(runtime, "worker", None)
            if runtime is not None and worker is not None:
                await worker.stop(runtime.settings.processing.shutdown_grace_seconds)
            await super().shutdown(sockets)

    return WorkerFirst(config)


@contextlib.contextmanager
def _shared_database(settings: Settings) -> Iterator[str]:
    """The embedded server for all workers when no URI is configured, else nothing."""
    if settings.mongo.uri:
        yield ""
        return
    from payflow.database_process import embedded_server

    with embedded_server(
        settings.embedded_data_dir,
        port=settings.embedded.port,
        startup_timeout=settings.embedded.startup_timeout_seconds,
    ) as server:
        yield server.uri
