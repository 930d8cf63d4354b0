"""The embedded default database: a SecantusDB server as a child process.

Why a child process: SecantusDB (PyPI ``secantusdb``) is a MongoDB-wire-compatible
server on WiredTiger. It is GPL-2.0, so payflow (MIT) never imports it: it is an
optional dependency that runs as a separate program, ``python -m secantus``, and
payflow talks to it exactly as it talks to a real ``mongod`` — the real driver
(motor/pymongo) over a real socket, so the code under test is the production code,
and ``mongosh`` can connect to it to look around. With ``MONGO_URI`` set none of
this runs.

What this module does about the server's quirks (secantusdb 0.7.0b3, measured):

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
- Stale lock / leftover process: WiredTiger holds an ``fcntl`` lock on
  ``WiredTiger.lock``. A SIGKILLed server leaves the file but not the lock, and the
  next start recovers from the journal. A server that is still running (e.g. left
  behind when its parent was SIGKILLed) makes a second start fail at once; we check
  first and name the process holding the lock.
- Stopping: the server handles SIGTERM in Python while its main thread blocks in
  ``Event.wait()`` with no timeout. When the kernel delivers the signal to one of its
  other threads (WiredTiger's or a connection's), the handler is only flagged and
  never runs — the signal looks ignored (measured: about 1 in 8 when a connection
  arrives at the same moment). A second SIGTERM gets through. Once the handler runs,
  the accept thread stays blocked in ``accept()`` for 2 s unless a connection wakes
  it. So: SIGTERM, then after 0.2 s connect to the port now and then (wakes the
  accept loop: stops in ~0.3 s instead of ~2.1 s), SIGTERM again if the port still
  accepts after 1 s, SIGKILL after ``grace``.
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
import fcntl
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
from pymongo import MongoClient
from pymongo.errors import PyMongoError

MEMORY = ":memory:"
LOG_NAME = "secantus.log"
CONFIG_NAME = "payflow-secantusd.toml"
STOP_GRACE_SECONDS = 5.0

_LOCK_NAME = "WiredTiger.lock"
_POLL_SECONDS = 0.05
_PROBE_TIMEOUT_SECONDS = 1.0
_PORT_ATTEMPTS = 3
_POKE_AFTER_SECONDS = 0.2  # poking at once races the signal (measured): let it land first
_RESIGNAL_AFTER_SECONDS = 1.0
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_TAIL_LINES = 25
_CONFIG_TEXT = (
    "# Written by payflow at every start of the embedded server: an empty config, so\n"
    "# that no ./secantusd.toml, ~/.secantus/ or /etc/secantus/ file applies.\n"
    "# Settings come from command-line flags (see payflow.store.embedded).\n"
)


class EmbeddedServerError(RuntimeError):
    """The embedded server did not start; the message carries the end of its log."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running SecantusDB child process.

    ``process`` is a plain ``subprocess.Popen`` (not an anyio ``Process``) so that the
    same object serves the blocking `start`/`stop` pair (pytest session fixtures) and
    `run_embedded`. ``storage_path`` is absolute, or ``":memory:"``. ``log_path`` is
    the server's output; for ``:memory:`` it lives in ``scratch_dir``, which `stop`
    removes.
    """

    process: subprocess.Popen[bytes]
    host: str
    port: int
    storage_path: str
    log_path: str | None = None
    scratch_dir: str | None = field(default=None, repr=False)

    @property
    def connect_host(self) -> str:
        """The address clients use: loopback when the server binds a wildcard."""
        return _connect_host(self.host)

    @property
    def uri(self) -> str:
        """``mongodb://127.0.0.1:<port>/?directConnection=true&retryWrites=false``.

        ``directConnection`` because the server advertises itself as the primary of a
        one-node replica set named ``secantus``, listing the address it bound: with
        a wildcard bind the driver would otherwise go looking for ``0.0.0.0``.
        ``retryWrites=false`` because the server keeps a record of every retryable write
        for 30 minutes and scans them all on each write, sorting them once there are
        10,000: measured, inserts fall from ~1,300/s to ~100/s after 10,000 writes.
        payflow's writes are idempotent by design (claims, deterministic ids, leases),
        so the driver's one automatic retry adds nothing it needs.
        """
        host = _uri_host(self.connect_host)
        return f"mongodb://{host}:{self.port}/?directConnection=true&retryWrites=false"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server is retried on a clash)."""
    family, socktype, proto, _, address = socket.getaddrinfo(
        host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.bind(address)
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
    """Start the server and wait until it answers ``ping`` (blocking; see `run_embedded`).

    Raises `EmbeddedServerError` if it exits, the storage path is held by another
    process, or it does not answer within ``startup_timeout`` seconds. The caller
    must `stop` the returned server.
    """
    launch = _Launch(storage_path, host, port, startup_timeout, extra_args)
    try:
        launch.spawn()
        while (server := launch.step(launch.probe())) is None:
            time.sleep(_POLL_SECONDS)
    except BaseException:
        launch.abort()
        raise
    return server


def stop(server: EmbeddedServer, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop the server: SIGTERM (repeated if it is lost), SIGKILL after ``grace`` seconds.

    Idempotent. Writes made with ``j=True`` survive even the SIGKILL.
    """
    try:
        _terminate(server.process, server.connect_host, server.port, grace)
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
    launch = _Launch(storage_path, host, port, startup_timeout, extra_args)
    try:
        launch.spawn()
        while True:
            server = launch.step(await anyio.to_thread.run_sync(launch.probe))
            if server is not None:
                break
            await anyio.sleep(_POLL_SECONDS)
    except BaseException:
        launch.abort()
        raise
    try:
        yield server
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stop, server)


class _Answer(enum.Enum):
    NOTHING = "nothing"  # no listener yet, or it does not speak MongoDB yet
    OURS = "ours"  # answers ping, and serverStatus.pid is our child
    FOREIGN = "foreign"  # some other server answers on this port


class _Launch:
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
            holder = _lock_holder(path / _LOCK_NAME)
            if holder is not None:
                self.abort()
                raise EmbeddedServerError(_in_use_message(self.storage_path, holder))
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

    def probe(self) -> _Answer:
        """Blocking, at most ~2 s: does our child answer ``ping`` on the port yet?"""
        host = _connect_host(self.host)
        if not _accepts(host, self.port, _PROBE_TIMEOUT_SECONDS):
            return _Answer.NOTHING
        uri = f"mongodb://{_uri_host(host)}:{self.port}/?directConnection=true"
        timeout_ms = int(_PROBE_TIMEOUT_SECONDS * 1000)
        try:
            with MongoClient[dict[str, object]](
                uri,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms,
            ) as client:
                client.admin.command("ping")
                pid = client.admin.command("serverStatus").get("pid")
        except PyMongoError:
            return _Answer.NOTHING
        process = self.process
        if process is None or not isinstance(pid, int) or pid == process.pid:
            return _Answer.OURS
        self.foreign_pid = pid
        return _Answer.FOREIGN

    def step(self, answer: _Answer) -> EmbeddedServer | None:
        """The server if it is ready, None to keep waiting; raises when it cannot start."""
        process = self.process
        assert process is not None
        if answer is _Answer.OURS and process.poll() is None:
            return EmbeddedServer(
                process=process,
                host=self.host,
                port=self.port,
                storage_path=self.storage_path,
                log_path=str(self.log_path),
                scratch_dir=None if self.scratch is None else str(self.scratch),
            )
        if process.poll() is not None or answer is _Answer.FOREIGN:
            _kill(process)
            log = self._log()
            if self.attempts_left > 0 and (
                answer is _Answer.FOREIGN or "address already in use" in log.lower()
            ):
                self.spawn()  # lost a race for the free port
                return None
            raise EmbeddedServerError(self._failure(process, answer, log))
        if time.monotonic() > self.deadline:
            _kill(process)
            raise EmbeddedServerError(
                f"SecantusDB ({self._what()}) did not answer ping within "
                f"{self.startup_timeout:g} s; end of its log ({self.log_path}):\n"
                f"{_tail(self._log())}"
            )
        return None

    def abort(self) -> None:
        """Kill a half-started server (nothing was acknowledged yet) and tidy up."""
        if self.process is not None:
            _kill(self.process)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _what(self) -> str:
        return f"port {self.port}, storage {self.storage_path}"

    def _failure(self, process: subprocess.Popen[bytes], answer: _Answer, log: str) -> str:
        if answer is _Answer.FOREIGN:
            return (
                f"port {self.port} is already served by another MongoDB-wire server "
                f"(pid {self.foreign_pid}); choose another port or 0 for a free one"
            )
        if "already being managed by another process" in log:
            holder = _lock_holder(Path(self.storage_path) / _LOCK_NAME)
            return f"{_in_use_message(self.storage_path, holder)}\n{_tail(log)}"
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


def _terminate(process: subprocess.Popen[bytes], host: str, port: int, grace: float) -> None:
    if process.poll() is not None:
        return
    try:
        started = signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        answered = 0
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_POLL_SECONDS)
                return
            now = time.monotonic()
            if now - started >= grace:
                break
            if now - signalled < _POKE_AFTER_SECONDS:
                continue
            # A connection wakes the accept loop, which then sees the stop flag and
            # lets the listener close. A port that still accepts after that means the
            # SIGTERM was lost (see the module docstring): send another.
            if _accepts(host, port, 0.1):
                answered += 1
                if answered >= 2 and now - signalled >= _RESIGNAL_AFTER_SECONDS:
                    process.send_signal(signal.SIGTERM)
                    signalled, answered = now, 0
            else:
                answered = 0
    except BaseException:
        _kill(process)
        raise
    _kill(process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def _accepts(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _connect_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping a wildcard bind to loopback
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _lock_holder(lock_file: Path) -> int | None:
    """The pid holding WiredTiger's fcntl lock on ``lock_file``, if any (Linux only)."""
    if sys.platform != "linux" or not lock_file.exists():
        return None
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return None
    try:
        # struct flock on Linux (x86-64, arm64): short type, short whence, off_t start,
        # off_t len, pid_t pid, padding.
        layout = "hhqqi4x"
        query = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        lock_type, _, _, _, pid = struct.unpack(layout, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return None
    finally:
        os.close(fd)
    if lock_type == fcntl.F_UNLCK or pid <= 0:
        return None
    return int(pid)


def _in_use_message(storage_path: str, holder: int | None) -> str:
    who = "another process" if holder is None else f"process {holder}"
    command = _command_line(holder)
    if command:
        who += f" ({command})"
    return (
        f"storage path {storage_path} is in use by {who}: another embedded server, "
        f"perhaps left running when its payflow was killed. Stop it, or use another "
        f"data directory (PAYFLOW_EMBEDDED__DATA_DIR)."
    )


def _command_line(pid: int | None) -> str:
    if pid is None:
        return ""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _rotate(log_path: Path) -> None:
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > _LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_name(log_path.name + ".1"))


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
