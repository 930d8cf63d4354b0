"""The driver's "the database cannot be reached" becomes the store's `StoreUnavailable`.

Each store class is decorated with `translating_outages`, so every public method of the
store raises `StoreUnavailable` for an outage (no server selected, connection lost, a
replica set's write concern not met) and
nothing above the store needs to know the driver's exception types: the problem mapping
answers 503 for it, and the worker can back off on it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pymongo.errors import ConnectionFailure, WriteConcernError

from payflow.store.base import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

# What the driver raises when the database is out of reach (ServerSelectionTimeoutError,
# AutoReconnect and NetworkTimeout are all ConnectionFailures), and when a write was not
# confirmed durable (a replica set's majority out of reach, or a failover while the write
# waited for it): a client sees 503 for these, never 500, and its retry with the same key
# finishes the work (the steps are idempotent).
OUTAGES: tuple[type[Exception], ...] = (ConnectionFailure, WriteConcernError)


def translating_outages(cls: C) -> C:
    """Wrap each public coroutine method of `cls` so an outage raises `StoreUnavailable`."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _translated(member))
    return cls


def _translated(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except OUTAGES as exc:
            raise StoreUnavailable(str(exc)[:300]) from exc

    return translated
