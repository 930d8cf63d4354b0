"""The supervisor restarts a dead embedded server on its port, backs off while restarts
fail, and gives up (saying why) after five failures within a minute."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest

from payflow.database_process import MEMORY, EmbeddedServer, EmbeddedServerError, Supervisor
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

PORT = 27999


class FakeProcess:
    """What the supervisor reads of a child: its pid and whether it has exited."""

    def __init__(self, pid: int, returncode: int | None) -> None:
        self.pid = pid
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


def server(pid: int, *, dead: bool = False, storage: str = "/data/db") -> EmbeddedServer:
    process = FakeProcess(pid, -9 if dead else None)
    return EmbeddedServer(cast("Any", process), "127.0.0.1", PORT, storage)


class Backoff:
    """The supervisor's sleep between restarts: records each delay, and moves the clock."""

    def __init__(self, step: float | None = None) -> None:
        self.now = 0.0
        self.delays: list[float] = []
        self.step = step  # seconds each sleep moves the clock; None: the delay itself

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds if self.step is None else self.step


class Starter:
    """Fails `failures` times, then starts a live server; remembers the ports asked for."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.ports: list[int] = []

    async def __call__(self, port: int) -> EmbeddedServer:
        self.ports.append(port)
        if len(self.ports) <= self.failures:
            raise EmbeddedServerError(f"start {len(self.ports)} failed")
        return server(100 + len(self.ports))


async def run_until(supervisor: Supervisor, what: str, done: Any) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(supervisor.run)
        await eventually(done, what)
        tasks.cancel_scope.cancel()


async def test_a_dead_server_is_started_again_on_the_same_port() -> None:
    backoff, starter, gave_up = Backoff(), Starter(failures=0), list[str]()
    supervisor = Supervisor(
        server(1, dead=True), starter, gave_up.append, clock=backoff.clock, sleep=backoff.sleep
    )

    async def restarted() -> bool:
        return supervisor.restarts == 1

    await run_until(supervisor, "the restart", restarted)
    assert starter.ports == [PORT]
    assert supervisor.server.process.pid == 101
    assert not supervisor.restarting
    assert gave_up == []


async def test_five_failed_restarts_within_a_minute_give_up_with_the_last_error() -> None:
    backoff, starter, gave_up = Backoff(), Starter(failures=100), list[str]()
    supervisor = Supervisor(
        server(1, dead=True), starter, gave_up.append, clock=backoff.clock, sleep=backoff.sleep
    )
    with anyio.fail_after(10):
        await supervisor.run()  # returns by itself once it gives up
    assert backoff.delays == [0.2, 0.4, 0.8, 1.6, 3.2]
    assert len(gave_up) == 1
    assert "5 restarts within 60 s failed" in gave_up[0]
    assert "start 5 failed" in gave_up[0]
    assert supervisor.gave_up == gave_up[0]


async def test_failures_spread_over_more_than_a_minute_keep_it_trying() -> None:
    backoff, starter, gave_up = Backoff(step=20.0), Starter(failures=7), list[str]()
    supervisor = Supervisor(
        server(1, dead=True), starter, gave_up.append, clock=backoff.clock, sleep=backoff.sleep
    )

    async def restarted() -> bool:
        return supervisor.restarts == 1

    await run_until(supervisor, "the eighth start", restarted)
    assert len(starter.ports) == 8
    assert gave_up == []
    assert max(backoff.delays) == 5.0  # doubling, capped


async def test_an_in_memory_server_is_not_restarted_empty() -> None:
    starter, gave_up = Starter(failures=0), list[str]()
    supervisor = Supervisor(server(1, dead=True, storage=MEMORY), starter, gave_up.append)
    with anyio.fail_after(10):
        await supervisor.run()
    assert starter.ports == []
    assert "in-memory" in gave_up[0]
