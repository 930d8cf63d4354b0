"""What the benchmark starts and stops: servers under test, wrk, and database probes.

Everything listens on 127.0.0.1 and every wait has a deadline, so a run stops by itself.
A server is a process tree (uvicorn's or granian's supervisor and its workers); its
memory is the resident set size of the whole tree, read from /proc.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from payflow.database_process import free_port

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua"
HOST = "127.0.0.1"
READY_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 20.0
Progress = Callable[[str], None]

TARGETS = {
    "payflow": "payflow.app:create_app",
    "floor": "bench.floors:create_app",
    "payfloor": "bench.payment_floor:create_app",
}


@dataclass
class Server:
    """A server under test, reachable at `base_url`, logging to `log_path`."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its worker processes."""
        return sum(_rss(pid) for pid in _tree(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def command(kind: str, runner: str, workers: int, port: int) -> list[str]:
    """How `kind` (payflow, floor or payfloor) is started under `runner` (uvicorn or granian)."""
    if runner == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", HOST, "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", TARGETS[kind],
        ]  # fmt: skip
    if kind == "payflow":
        return [
            sys.executable, "-m", "payflow.cli", "serve",
            "--host", HOST, "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
    return [
        sys.executable, "-m", TARGETS[kind].partition(":")[0],
        "--host", HOST, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip


def start_server(
    kind: str,
    *,
    runner: str,
    workers: int,
    mongo_uri: str,
    database: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> Server:
    """Start `kind` on a free port against `database` and wait until it is ready."""
    port = free_port()
    full_env = {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "PAYFLOW_MONGO__DATABASE": database,
        "PAYFLOW_SERVER__HOST": HOST,
        "PAYFLOW_SERVER__PORT": str(port),
        **(env or {}),
    }
    log_path = log_dir / f"{kind}-{database}.log"
    ready = "/health/ready" if kind == "payflow" else "/floor/ready"
    return launch(
        kind, command(kind, runner, workers, port), f"http://{HOST}:{port}", ready, log_path,
        env=full_env,
    )  # fmt: skip


def launch(
    name: str,
    cmd: Sequence[str],
    base_url: str,
    ready_path: str,
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    headers: dict[str, str] | None = None,
) -> Server:
    """Start `cmd` in a session of its own, its output in `log_path`, and wait until
    GET `ready_path` answers 200; a process that exits or never answers is an error."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments chosen by the bench
            list(cmd),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, process, base_url, log_path)
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early; see {log_path}:\n{_tail(log_path)}")
        try:
            if httpx.get(base_url + ready_path, headers=headers, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not become ready; see {log_path}:\n{_tail(log_path)}")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: counts, rates and latency percentiles (milliseconds)."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # responses with status >= 400
    socket_errors: int  # connect, read, write errors and timeouts

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_wrk(
    base_url: str,
    script: str,
    args: Sequence[str] = (),
    *,
    duration: float,
    threads: int = 2,
    connections: int = 32,
    label: str,
    progress: Progress,
    tally: Tally | None = None,
) -> WrkResult:
    """Run wrk with `lua/<script>` for at most `duration` seconds, reporting progress.

    wrk runs for its whole duration even when every thread has stopped, so a run with an
    end of its own passes a `tally` (its file is the script's last argument): read four
    times a second and shown in the progress line; once every thread has noted that it
    stopped, wrk gets SIGINT, which makes it stop and report what it measured so far.
    """
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
        "--timeout", "30s", "-s", str(LUA / script), base_url, "--", *args,
    ]  # fmt: skip
    if tally is not None:
        cmd.append(str(tally.path))
    started = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:  # noqa: S603
        so_far = ""
        while proc.poll() is None:
            progress(f"{label}: {time.monotonic() - started:4.0f} / {duration:.0f} s{so_far}")
            time.sleep(0.25)
            if tally is not None and proc.poll() is None:
                answered, stopped = tally.read()
                so_far = f", {answered:,} of {tally.target:,} answered"
                if stopped >= threads:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(30)
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=raw["status_errors"],
        socket_errors=sum(
            raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
    )


@dataclass
class Tally:
    """What a wrk script with an end of its own has done so far, read from the file its
    threads append to ("<thread> <answers>" now and then, "<thread> done" when it stops).

    The bench follows a run this way, never by counting documents: on the embedded server
    a count is a scan (measured: ~150 ms at 4,000 orders, growing with them), and polling
    one four times a second took a large share of the database the run was measuring.
    """

    path: Path
    target: int

    def read(self) -> tuple[int, int]:
        """(answers so far, threads that have stopped)."""
        answers: dict[str, int] = {}
        stopped: set[str] = set()
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text().splitlines():
                thread, _, what = line.partition(" ")
                if what == "done":
                    stopped.add(thread)
                elif what.isdigit():
                    answers[thread] = max(answers.get(thread, 0), int(what))
        return sum(answers.values()), len(stopped)


def wait_until(
    done: Callable[[], bool],
    *,
    deadline: float,
    label: str,
    progress: Progress,
    interval: float = 0.5,
) -> bool:
    """Poll `done()` until it holds or the monotonic `deadline` passes; whether it held."""
    started = time.monotonic()
    while not done():
        if time.monotonic() >= deadline:
            return False
        progress(f"{label}: {time.monotonic() - started:4.0f} s")
        time.sleep(interval)
    return True


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
