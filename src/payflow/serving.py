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


# The exit status of a payflow that stopped because it cannot go on (`app.state.fatal`
# says why: its embedded database will not come back).
FATAL_EXIT_CODE = 3


def serve(
    factory: str, settings: Settings, build: Callable[[Settings], Any], workers: int = 1
) -> int:
    """Serve until stopped; `factory` is `build`'s import path (`module:function`).

    Returns the exit status: 0, or `FATAL_EXIT_CODE` when the app stopped itself."""
    import uvicorn

    host, port = settings.server.host, settings.server.port
    if workers <= 1:
        app = build(settings)
        config = uvicorn.Config(app, host=host, port=port, **UVICORN_OPTIONS)
        _worker_first_server(config).run()
        return FATAL_EXIT_CODE if _fatal(app) else 0
    with _shared_database(settings) as uri:
        os.environ["PAYFLOW_SERVER__HOST"] = host
        os.environ["PAYFLOW_SERVER__PORT"] = str(port)
        if uri:
            os.environ["MONGO_URI"] = uri
        uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, **UVICORN_OPTIONS)
    return 0


def _fatal(app: Any) -> str | None:
    """Why the app asked to stop, if it did (see `payflow.lifespan`)."""
    reason = getattr(getattr(app, "state", None), "fatal", None)
    return reason if isinstance(reason, str) else None


def _worker_first_server(config: Any) -> Any:
    """uvicorn's server, but payflow's worker is stopped before the listener closes.

    uvicorn closes its socket first and runs the app's shutdown last, so a worker still
    busy then would send its webhooks to its own receiver and find nobody listening (a
    failed attempt for every in-flight delivery, retried after the restart). Stopped
    first, its in-flight deliveries land within the grace period and the rest is handed
    back in the database. Apps without a worker (the benchmark's floors) are unaffected.
    It also stops when the app says it cannot go on (`_fatal`).
    """
    import uvicorn

    class WorkerFirst(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            runtime = getattr(getattr(self.config.app, "state", None), "runtime", None)
            worker = getattr(runtime, "worker", None)
            if runtime is not None and worker is not None:
                await worker.stop(runtime.settings.processing.shutdown_grace_seconds)
            await super().shutdown(sockets)

        async def on_tick(self, counter: int) -> bool:
            # The app cannot go on (its database will not come back): stop as for SIGTERM.
            return _fatal(self.config.app) is not None or await super().on_tick(counter)

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
