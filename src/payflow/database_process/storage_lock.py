"""Who holds the storage directory: a second server on the same data cannot start.

WiredTiger holds an ``fcntl`` lock on ``WiredTiger.lock``. A SIGKILLed server leaves
the file but not the lock, and the next start recovers from the journal. A server that
is still running (e.g. left behind when its parent was SIGKILLed) makes a second start
fail at once; we check first and name the process holding the lock.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
from pathlib import Path

LOCK_NAME = "WiredTiger.lock"


def lock_holder(lock_file: Path) -> int | None:
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


def in_use_message(storage_path: str, holder: int | None) -> str:
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
