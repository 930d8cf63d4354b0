"""A running embedded server: its process, where it listens, and the URI to reach it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

MEMORY = ":memory:"
LOG_NAME = "secantus.log"
CONFIG_NAME = "payflow-secantusd.toml"
POLL_SECONDS = 0.05  # how often start-up and stopping look at the child again


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
        return connect_host(self.host)

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
        host = uri_host(self.connect_host)
        return f"mongodb://{host}:{self.port}/?directConnection=true&retryWrites=false"


def connect_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping a wildcard bind to loopback
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
