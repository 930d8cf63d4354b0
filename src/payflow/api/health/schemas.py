"""Wire shapes of the health probes."""

from __future__ import annotations

import msgspec


class Live(msgspec.Struct):
    status: str


class Ready(msgspec.Struct):
    """`status` ok or unavailable; `database` ok or unreachable; `worker` ok or stopped."""

    status: str
    database: str
    worker: str
