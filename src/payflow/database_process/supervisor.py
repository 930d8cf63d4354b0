"""Keeping the embedded server alive: a child that dies is started again (DESIGN §8).

When the child dies (``kill -9``, the out-of-memory killer, a crash), payflow does not
stay up answering 503 for ever: the supervisor notices within `WATCH_SECONDS` and
starts the server again on the same storage directory and the same port, so the
driver's client finds it where it was and reconnects by itself (its monitor checks a
server it lost at least every 0.5 s once an operation waits for it). Until then
requests answer 503 ``service-unavailable`` and ``/health/ready`` says the database is
unreachable. Work a job was doing when the database went is not lost: its lease
expires and the poller feeds it again (`payflow.worker.poller`).

- Restarts back off (`FIRST_BACKOFF_SECONDS` doubling to `MAX_BACKOFF_SECONDS`), so a
  server that cannot start is not hammered; the backoff starts over once a restarted
  server has stayed up for `STABLE_SECONDS`.
- The storage lock: a SIGKILLed server's lock goes with its process, and the child is
  reaped before a restart, so the restart finds the directory free. If another process
  holds it meanwhile, that start fails with its name (`storage_lock`) and counts as a
  failed restart.
- Journaled writes (``j=True``) survive the SIGKILL; the restart recovers them from
  the WiredTiger journal.
- `RESTART_LIMIT` failed restarts within `RESTART_WINDOW_SECONDS` mean it will not come
  back by itself: the supervisor stops trying and hands the reason to ``give_up``
  (payflow then exits non-zero, saying why).
- An in-memory server (``:memory:``) is not restarted: its data died with it, and a
  fresh empty database would silently lose every accepted order. That is a give-up too.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace

import anyio
import structlog

from payflow.database_process.lifecycle import ServerSpec, start_async, stop_async
from payflow.database_process.server import MEMORY, EmbeddedServer, EmbeddedServerError

log = structlog.get_logger(__name__)

WATCH_SECONDS = 0.1
FIRST_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
STABLE_SECONDS = 30.0
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 60.0

# Starts a server on the given port (the first server's, so the driver finds it again).
Starter = Callable[[int], Awaitable[EmbeddedServer]]
GiveUp = Callable[[str], None]
MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Supervisor:
    """Watches the current server and replaces it when it dies; `run` until cancelled.

    ``start``, ``clock`` and ``sleep`` (the backoff's) are seams: tests inject a starter
    that fails on purpose and a clock that the backoff moves.
    """

    def __init__(
        self,
        server: EmbeddedServer,
        start: Starter,
        give_up: GiveUp,
        *,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.server = server
        self.restarts = 0
        self.gave_up: str | None = None
        self._start = start
        self._give_up = give_up
        self._clock = clock
        self._sleep = sleep
        self._failures: deque[float] = deque()
        self._backoff = FIRST_BACKOFF_SECONDS
        self._up_since = clock()

    @property
    def restarting(self) -> bool:
        return self.server.process.poll() is not None

    async def run(self) -> None:
        while self.gave_up is None:
            await self._wait_for_death()
            await self._restart()

    async def _wait_for_death(self) -> None:
        # A Popen has nothing to await; `poll` is one non-blocking waitpid, and it reaps
        # the child, so its storage lock is released before a restart looks.
        while self.server.process.poll() is None:  # noqa: ASYNC110
            await anyio.sleep(WATCH_SECONDS)
        died = self.server
        log.warning(
            "embedded_database_died",
            pid=died.process.pid,
            exit_code=died.process.returncode,
            port=died.port,
            uptime_s=round(self._clock() - self._up_since, 1),
        )
        if self._clock() - self._up_since >= STABLE_SECONDS:
            self._backoff = FIRST_BACKOFF_SECONDS

    async def _restart(self) -> None:
        died = self.server
        if died.storage_path == MEMORY:
            pid = died.process.pid
            self._stop(f"the in-memory embedded database (pid {pid}) died with its data")
            return
        while True:
            await self._sleep(self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
            began = self._clock()
            try:
                server = await self._start(died.port)
            except EmbeddedServerError as exc:
                if self._failed(exc):
                    return
                continue
            self.server, self._up_since = server, self._clock()
            self.restarts += 1
            log.warning(
                "embedded_database_restarted",
                pid=server.process.pid,
                port=server.port,
                restarts=self.restarts,
                start_s=round(self._up_since - began, 2),
            )
            return

    def _failed(self, exc: EmbeddedServerError) -> bool:
        """Count a failed restart; True once that makes `RESTART_LIMIT` in the window."""
        now = self._clock()
        self._failures.append(now)
        while self._failures and now - self._failures[0] > RESTART_WINDOW_SECONDS:
            self._failures.popleft()
        log.error("embedded_database_restart_failed", failures=len(self._failures), error=str(exc))
        if len(self._failures) < RESTART_LIMIT:
            return False
        self._stop(
            f"the embedded database died and {len(self._failures)} restarts within "
            f"{RESTART_WINDOW_SECONDS:g} s failed; the last one said: {exc}"
        )
        return True

    def _stop(self, reason: str) -> None:
        self.gave_up = reason
        log.error("embedded_database_gave_up", reason=reason)
        self._give_up(reason)


@contextlib.asynccontextmanager
async def run_supervised(
    storage_path: str | os.PathLike[str],
    give_up: GiveUp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[Supervisor]:
    """`run_embedded`, kept alive: the supervisor's `server` is the one running now.

    The first start fails as `run_embedded`'s does (nothing to heal yet); later deaths
    are restarted on the first server's port, and ``give_up`` hears when that fails.
    """

    spec = ServerSpec(storage_path, host, port, startup_timeout, extra_args)

    async def start(on_port: int) -> EmbeddedServer:
        return await start_async(replace(spec, port=on_port))

    supervisor = Supervisor(await start(port), start, give_up)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(supervisor.run)
            try:
                yield supervisor
            finally:
                tasks.cancel_scope.cancel()
    finally:
        await stop_async(supervisor.server)
