"""Starting and stopping the embedded server: the entry points payflow and its tests use.

`start`/`stop` block (test fixtures, the multi-worker runner); `run_embedded` holds the
server for the life of an async block (the app's lifespan). Each start-up is one
`launch.Launch`; each stop is `stopping.terminate`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import anyio

from payflow.database_process.launch import Launch
from payflow.database_process.server import POLL_SECONDS, EmbeddedServer
from payflow.database_process.stopping import terminate

STOP_GRACE_SECONDS = 5.0


def start(
    storage_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> EmbeddedServer:
    """Start the server and wait until it answers ``ping`` (blocking; see `run_embedded`).

    Raises `EmbeddedServerError` if it exits, the storage path is held by another
    process, or it does not answer within ``startup_timeout`` seconds. The caller
    must `stop` the returned server.
    """
    launch = Launch(storage_path, host, port, startup_timeout, extra_args)
    try:
        launch.spawn()
        while (server := launch.step(launch.probe())) is None:
            time.sleep(POLL_SECONDS)
    except BaseException:
        launch.abort()
        raise
    return server


def stop(server: EmbeddedServer, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop the server: SIGTERM (repeated if it is lost), SIGKILL after ``grace`` seconds.

    Idempotent. Writes made with ``j=True`` survive even the SIGKILL.
    """
    try:
        terminate(server.process, server.connect_host, server.port, grace)
    finally:
        if server.scratch_dir is not None:
            shutil.rmtree(server.scratch_dir, ignore_errors=True)


@contextlib.contextmanager
def embedded_server(
    storage_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> Iterator[EmbeddedServer]:
    """Blocking twin of `run_embedded`, for code without an event loop (test fixtures)."""
    server = start(
        storage_path,
        host=host,
        port=port,
        startup_timeout=startup_timeout,
        extra_args=extra_args,
    )
    try:
        yield server
    finally:
        stop(server)


@contextlib.asynccontextmanager
async def run_embedded(
    storage_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[EmbeddedServer]:
    """The server for the life of the block; stopped on exit, cancellation or Ctrl-C.

    ``storage_path`` is a directory (created if missing; reopened intact) or
    ``":memory:"``. ``port=0`` picks a free port. ``extra_args`` are appended to the
    command line (e.g. ``["--sync-on-commit"]``); a later flag overrides ours.
    Start-up waits in the event loop (each probe runs in a worker thread), so it can
    be cancelled; a half-started server is killed.
    """
    server = await start_async(ServerSpec(storage_path, host, port, startup_timeout, extra_args))
    try:
        yield server
    finally:
        await stop_async(server)


@dataclass(frozen=True)
class ServerSpec:
    """What `start_async` starts: `run_embedded`'s arguments, kept for a restart."""

    storage_path: str | os.PathLike[str]
    host: str
    port: int
    startup_timeout: float
    extra_args: Sequence[str]


async def start_async(spec: ServerSpec) -> EmbeddedServer:
    """`start` waiting in the event loop (each probe in a worker thread): cancellable, and a
    half-started server is killed. The caller must `stop_async` (or `stop`) the server."""
    launch = Launch(spec.storage_path, spec.host, spec.port, spec.startup_timeout, spec.extra_args)
    try:
        launch.spawn()  # in the caller's thread: see launch.py, "Dying with payflow"
        while True:
            server = launch.step(await anyio.to_thread.run_sync(launch.probe))
            if server is not None:
                return server
            await anyio.sleep(POLL_SECONDS)
    except BaseException:
        launch.abort()
        raise


async def stop_async(server: EmbeddedServer) -> None:
    """`stop` from the event loop; shielded, so a cancelled caller still stops its server."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(stop, server)
