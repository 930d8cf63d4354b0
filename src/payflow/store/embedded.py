"""The embedded default database: a SecantusDB server as a child process.

SecantusDB (PyPI `secantusdb`) speaks the MongoDB wire protocol on top of
WiredTiger, so payflow talks to it with the real driver over a real socket, and
`mongosh` can inspect it. It is GPL-2.0, which is why it runs as a separate process
and is an optional dependency, never imported. With `MONGO_URI` set, none of this runs.

Stopping: SIGTERM, wait, then SIGKILL — the server may ignore a signal that arrives
right after start-up, and data written with a journaled write concern survives a
SIGKILL anyway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from pymongo import MongoClient
from pymongo.errors import PyMongoError

MEMORY = ":memory:"
LOG_NAME = "secantus.log"
STOP_GRACE_SECONDS = 5.0


class EmbeddedServerError(RuntimeError):
    """The embedded server did not start; the message carries the end of its log."""


@dataclass(frozen=True)
class EmbeddedServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    storage_path: str

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start(
    storage_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> EmbeddedServer:
    """Start the server and wait until it answers `ping` (blocking; see `run_embedded`)."""
    path = str(storage_path)
    log_path: Path | None = None
    if path != MEMORY:
        Path(path).mkdir(parents=True, exist_ok=True)
        log_path = Path(path) / LOG_NAME
    port = port or free_port(host)
    command = [sys.executable, "-m", "secantus", "--host", host, "--port", str(port)]
    command += ["--storage-path", path, "--log-level", "WARNING", *extra_args]
    with contextlib.ExitStack() as files:
        log = files.enter_context(log_path.open("ab")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = EmbeddedServer(process, host, port, path)
    deadline = time.monotonic() + startup_timeout
    while True:
        if process.poll() is not None:
            raise EmbeddedServerError(
                f"SecantusDB exited with code {process.returncode}:\n{_tail(log_path)}"
            )
        if _answers_ping(server.uri):
            return server
        if time.monotonic() > deadline:
            stop(server)
            raise EmbeddedServerError(
                f"SecantusDB did not answer ping within {startup_timeout} s:\n{_tail(log_path)}"
            )
        time.sleep(0.05)


def stop(server: EmbeddedServer, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM, wait up to `grace`, SIGTERM again, then SIGKILL."""
    process = server.process
    for _ in range(2):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace / 2)
        except subprocess.TimeoutExpired:
            continue
        return
    process.kill()
    process.wait()


@contextlib.asynccontextmanager
async def run_embedded(
    storage_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[EmbeddedServer]:
    """The server for the life of the block; stopped on exit, cancellation or Ctrl-C."""
    server = await anyio.to_thread.run_sync(
        lambda: start(
            storage_path,
            host=host,
            port=port,
            startup_timeout=startup_timeout,
            extra_args=extra_args,
        )
    )
    try:
        yield server
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stop, server)


def _answers_ping(uri: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=300, connectTimeoutMS=300
    )
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True


def _tail(log_path: Path | None, lines: int = 20) -> str:
    if log_path is None or not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
