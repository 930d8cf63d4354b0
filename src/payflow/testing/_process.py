"""`payflow serve` as a child process for a test session: start, wait until ready, stop."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 60.0
STOP_SECONDS = 20.0
STARTS = 3  # a port picked free can be taken before the child binds it: try another


@dataclass
class ServedPayflow:
    url: str
    webhook_secret: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (payflow hands its leases back and stops its database), then SIGKILL."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_payflow(workdir: Path) -> ServedPayflow:
    """A payflow on a free loopback port with its data under `workdir`, ready to serve."""
    failure = ""
    for attempt in range(STARTS):
        served = _launch(workdir / f"run{attempt}")
        failure = _wait_ready(served)
        if not failure:
            return served
        served.stop()
    raise RuntimeError(f"payflow did not start: {failure}")


def _launch(workdir: Path) -> ServedPayflow:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "payflow.toml"
    config.write_text("# the pytest fixture's settings come from the environment\n")
    port = _free_port()
    secret = f"whsec_test_{secrets.token_hex(16)}"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PAYFLOW_") and name != "MONGO_URI"
    }
    env.update(
        {
            "PAYFLOW_CONFIG": str(config),  # hermetic: no config file of the project applies
            "PAYFLOW_SERVER__HOST": "127.0.0.1",
            "PAYFLOW_SERVER__PORT": str(port),
            "PAYFLOW_EMBEDDED__DATA_DIR": str(workdir / "db"),
            "PAYFLOW_CLOCK__MODE": "test",
            "PAYFLOW_WEBHOOKS__SECRET": secret,
            "PAYFLOW_WEBHOOKS__MAX_ENDPOINTS": "500",
            "PAYFLOW_PROCESSING__DELAY_SECONDS": "0",
            "PAYFLOW_PROCESSING__POLL_INTERVAL_SECONDS": "0.2",
            # Retries wait for advance() anyway; a first retry within a minute (never at
            # the failed attempt's own frozen instant) keeps "one attempt, then advance".
            "PAYFLOW_PROCESSING__RETRY_BASE_SECONDS": "60",
            "PAYFLOW_CORS__ALLOW_ORIGINS": "[]",
            "PAYFLOW_LOG__JSON": "true",
        }
    )
    log_path = workdir / "payflow.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "payflow.cli", "serve"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServedPayflow(f"http://127.0.0.1:{port}", secret, process, log_path)


def _wait_ready(served: ServedPayflow) -> str:
    """'' once `/health/ready` answers 200, else why not (with the log's tail)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            return f"it exited with {served.process.returncode}:\n{served.log_tail()}"
        try:
            if httpx.get(f"{served.url}/health/ready", timeout=1).status_code == 200:
                return ""
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return f"not ready after {STARTUP_SECONDS:.0f} s:\n{served.log_tail()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
