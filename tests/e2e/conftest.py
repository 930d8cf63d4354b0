"""A real `payflow serve` process on a free port, on each real server.

`database_env` says where a served payflow keeps its data: on `[embedded]`, the
embedded server it starts itself (in its temp directory), as a user runs it; on
`[mongod-rs]`, a database of its own on the session's MongoDB replica set, through
`PAYFLOW_MONGO__URI` (tests/conftest.py). Two payflow processes, or a restarted one,
given the same `database_env` share the data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port
from tests.replica_set import ReplicaSet
from tests.waiting import eventually_sync

STARTUP_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 20.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    base_url: str
    process: subprocess.Popen[str]
    log_path: Path
    data_dir: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start(tmp: Path, port: int, env: dict[str, str]) -> Served:
    log_path = tmp / "payflow.log"
    inherited = {name: value for name, value in os.environ.items() if name != "MONGO_URI"}
    full_env = {
        **inherited,
        "PAYFLOW_SERVER__PORT": str(port),
        "PAYFLOW_EMBEDDED__DATA_DIR": str(tmp / "db"),
        "PAYFLOW_PROCESSING__DELAY_SECONDS": "0.2",
        "PAYFLOW_PROCESSING__POLL_INTERVAL_SECONDS": "0.2",
        **env,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "payflow.cli", "serve"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = Served(f"http://127.0.0.1:{port}", process, log_path, tmp / "db")

    def ready() -> bool:
        if process.poll() is not None:
            code = process.returncode
            raise RuntimeError(f"payflow exited early (status {code}):\n{served.output()}")
        try:
            return httpx.get(f"{served.base_url}/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually_sync(ready, "payflow ready", within=STARTUP_DEADLINE_SECONDS, every=0.1)
    except AssertionError:
        stop(served)
        raise RuntimeError(f"payflow did not become ready:\n{served.output()}") from None
    return served


def stop(served: Served) -> int:
    served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
        raise


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux): payflow's one is its embedded database."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" not in status.read_text()


def env_for(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that puts a served payflow on `backend` (a fresh database)."""
    if backend == "embedded":
        return {}  # payflow starts its own, in the directory `start` gives it
    replica_set: ReplicaSet = request.getfixturevalue("mongod_replica_set")
    database = f"e2e_{uuid.uuid4().hex[:12]}"
    return {"PAYFLOW_MONGO__URI": replica_set.uri, "PAYFLOW_MONGO__DATABASE": database}


@pytest.fixture
def database_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    return env_for(backend, request)


@pytest.fixture(scope="module")
def served(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    env = env_for(backend, request)
    instance = start(tmp_path_factory.mktemp("payflow"), free_port(), env)
    yield instance
    if instance.process.poll() is None:
        stop(instance)
