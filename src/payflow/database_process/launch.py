"""One start-up of the server: its command line and log, a port, and whether it answers.

What start-up does about the server's quirks (secantusdb 0.7.0b3, measured):

- Config files: the launcher reads ``./secantusd.toml``, ``~/.secantus/secantusd.toml``
  or ``/etc/secantus/secantusd.toml`` when no ``--config`` is given, so a stray file
  could turn on auth or TLS. We always pass ``--config`` with an empty file written
  next to the log; everything is set by flags.
- Durability: on-disk stores keep a WiredTiger journal. ``writeConcern: {j: true}``
  makes that one commit fsync the journal (``sync=on``), so it survives SIGKILL and
  power loss; default writes survive a clean stop, but a SIGKILL loses the last
  ~50-100 ms of them. payflow writes with ``j=True``, so ``--sync-on-commit`` (fsync
  every commit, journaled or not) is not needed; pass it in ``extra_args`` if wanted.
- Standalone: by default the server calls itself a one-node replica set and writes an
  oplog entry for every write (for change streams, which payflow never opens). With
  ``--standalone`` it does not: measured on 2 cores, +25 % journaled inserts and about
  +55 % batched inserts and updates, and no oplog file growing beside the data.
  Transactions and change streams are the only things given up; payflow uses neither
  (DESIGN: every step is one single-document write).
- ``:memory:`` makes the server create ``$TMPDIR/secantus_wt_*`` and remove it only on
  a clean stop; we point ``TMPDIR`` at a private scratch directory (which also holds
  the log and config) and remove it ourselves.
- The child runs in its own session, so a Ctrl-C in the terminal reaches payflow
  only: payflow finishes its graceful shutdown against a live database, then stops
  the server. Its output goes to ``secantus.log`` in the storage directory (a file,
  never a pipe, so it cannot block on a full pipe); each start appends a header.
- Dying with payflow: a SIGKILLed payflow runs no clean-up, and its server would live
  on holding the storage lock, so the next start would fail. On Linux the child asks
  the kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``, set between fork
  and exec); journaled writes survive that. The signal follows the *thread* that
  spawned the child, so spawning happens in the caller's (long-lived) thread, never
  in a worker thread that may be retired while the server still runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from payflow.database_process.server import (
    CONFIG_NAME,
    LOG_NAME,
    MEMORY,
    EmbeddedServer,
    EmbeddedServerError,
    connect_host,
    uri_host,
)
from payflow.database_process.stopping import accepts, kill
from payflow.database_process.storage_lock import LOCK_NAME, in_use_message, lock_holder
from payflow.store.base import StoreUnavailable
from payflow.store.mongo.client import server_pid

_PROBE_TIMEOUT_SECONDS = 1.0
_PORT_ATTEMPTS = 3
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_TAIL_LINES = 25
_CONFIG_TEXT = (
    "# Written by payflow at every start of the embedded server: an empty config, so\n"
    "# that no ./secantusd.toml, ~/.secantus/ or /etc/secantus/ file applies.\n"
    "# Settings come from command-line flags (see payflow.database_process).\n"
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server is retried on a clash)."""
    family, socktype, proto, _, address = socket.getaddrinfo(
        host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.bind(address)
        port: int = sock.getsockname()[1]
        return port


class Answer(enum.Enum):
    NOTHING = "nothing"  # no listener yet, or it does not speak MongoDB yet
    OURS = "ours"  # answers ping, and serverStatus.pid is our child
    FOREIGN = "foreign"  # some other server answers on this port


class Launch:
    """One start-up: prepares the directory, spawns, and judges each probe.

    `start` and `run_embedded` drive it; only their waiting differs.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike[str],
        host: str,
        port: int,
        startup_timeout: float,
        extra_args: Sequence[str],
    ) -> None:
        self.host = host
        self.requested_port = port
        self.extra_args = list(extra_args)
        self.deadline = time.monotonic() + startup_timeout
        self.startup_timeout = startup_timeout
        self.attempts_left = _PORT_ATTEMPTS if port == 0 else 1
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.foreign_pid: int | None = None
        self.env = dict(os.environ)
        if os.fspath(storage_path) == MEMORY:
            self.storage_path = MEMORY
            self.scratch: Path | None = Path(tempfile.mkdtemp(prefix="payflow-secantus-"))
            self.workdir = self.scratch
            # The server's own ephemeral WiredTiger home goes here too, so nothing
            # is left in /tmp when it is killed.
            self.env["TMPDIR"] = str(self.scratch)
        else:
            path = Path(storage_path).expanduser().resolve()
            path.mkdir(parents=True, exist_ok=True)
            self.storage_path = str(path)
            self.scratch = None
            self.workdir = path
            # A developer's test-speed switch that turns the journal's fsyncs off.
            self.env.pop("SECANTUS_TEST_FAST_STORAGE", None)
            holder = lock_holder(path / LOCK_NAME)
            if holder is not None:
                self.abort()
                raise EmbeddedServerError(in_use_message(self.storage_path, holder))
        self.log_path = self.workdir / LOG_NAME
        self.config_path = self.workdir / CONFIG_NAME
        self.config_path.write_text(_CONFIG_TEXT)
        self.log_offset = 0

    def spawn(self) -> None:
        self.attempts_left -= 1
        self.port = self.requested_port or free_port(self.host)
        command = [
            sys.executable,
            "-m",
            "secantus",
            "--config",
            str(self.config_path),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--log-level",
            "INFO",
            "--standalone",
            *self.extra_args,
        ]
        _rotate(self.log_path)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- payflow {stamp}: {shlex.join(command)}\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,  # nothing in the caller's directory shadows a module
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # see "Dying with payflow" above
            )

    def probe(self) -> Answer:
        """Blocking, at most ~2 s: does our child answer ``ping`` on the port yet?"""
        host = connect_host(self.host)
        if not accepts(host, self.port, _PROBE_TIMEOUT_SECONDS):
            return Answer.NOTHING
        uri = f"mongodb://{uri_host(host)}:{self.port}/?directConnection=true"
        try:
            pid = server_pid(uri, _PROBE_TIMEOUT_SECONDS)
        except StoreUnavailable:
            return Answer.NOTHING
        process = self.process
        if process is None or not isinstance(pid, int) or pid == process.pid:
            return Answer.OURS
        self.foreign_pid = pid
        return Answer.FOREIGN

    def step(self, answer: Answer) -> EmbeddedServer | None:
        """The server if it is ready, None to keep waiting; raises when it cannot start."""
        process = self.process
        assert process is not None
        if answer is Answer.OURS and process.poll() is None:
            return EmbeddedServer(
                process=process,
                host=self.host,
                port=self.port,
                storage_path=self.storage_path,
                log_path=str(self.log_path),
                scratch_dir=None if self.scratch is None else str(self.scratch),
            )
        if process.poll() is not None or answer is Answer.FOREIGN:
            kill(process)
            log = self._log()
            if self.attempts_left > 0 and (
                answer is Answer.FOREIGN or "address already in use" in log.lower()
            ):
                self.spawn()  # lost a race for the free port
                return None
            raise EmbeddedServerError(self._failure(process, answer, log))
        if time.monotonic() > self.deadline:
            kill(process)
            raise EmbeddedServerError(
                f"SecantusDB ({self._what()}) did not answer ping within "
                f"{self.startup_timeout:g} s; end of its log ({self.log_path}):\n"
                f"{_tail(self._log())}"
            )
        return None

    def abort(self) -> None:
        """Kill a half-started server (nothing was acknowledged yet) and tidy up."""
        if self.process is not None:
            kill(self.process)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _what(self) -> str:
        return f"port {self.port}, storage {self.storage_path}"

    def _failure(self, process: subprocess.Popen[bytes], answer: Answer, log: str) -> str:
        if answer is Answer.FOREIGN:
            return (
                f"port {self.port} is already served by another MongoDB-wire server "
                f"(pid {self.foreign_pid}); choose another port or 0 for a free one"
            )
        if "already being managed by another process" in log:
            holder = lock_holder(Path(self.storage_path) / LOCK_NAME)
            return f"{in_use_message(self.storage_path, holder)}\n{_tail(log)}"
        return (
            f"SecantusDB ({self._what()}) exited with code {process.returncode}; "
            f"end of its log ({self.log_path}):\n{_tail(log)}"
        )

    def _log(self) -> str:
        """What the current child wrote (the log file is shared with earlier runs)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child get SIGKILL when this process dies (Linux).

    Everything it calls is resolved before the fork, so the forked child runs no import
    and takes no lock. If the parent died before the request took effect, the child
    exits at once instead of living on as an orphan.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    getppid, exit_now = os.getppid, os._exit

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if getppid() != parent:
            exit_now(1)

    return arm


def _rotate(log_path: Path) -> None:
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > _LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_name(log_path.name + ".1"))


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
