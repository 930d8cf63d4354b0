"""Jobs: what travels on the work channel (a kind and a document id) and the states a
document's job goes through.

The channel carries short strings only (`o:<order id>`), so nothing lives only in memory:
the poller can re-feed any of them from MongoDB. The API enqueues, the worker consumes;
both name the kinds from here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol


class JobKind(StrEnum):
    """The prefix of a work item: which job runs for the id after it."""

    ORDER = "o:"
    REFUND = "r:"
    DELIVERY = "d:"

    def item(self, document_id: str) -> str:
        """The work item for this kind of job about `document_id`."""
        return self.value + document_id


def parse_item(item: str) -> tuple[JobKind, str]:
    """Split a work item into its kind and document id (an unknown prefix is an order's,
    as items were before kinds had prefixes)."""
    for kind in JobKind:
        if item.startswith(kind.value):
            return kind, item.removeprefix(kind.value)
    return JobKind.ORDER, item


class JobState(StrEnum):
    """Where a document's job (`processing.state`) stands.

    queued ──claim──▶ processing ──finish──▶ done
       ▲                  │
       └── lease expired (another worker claims it) or released at a graceful stop
    """

    QUEUED = "queued"  # waiting for its due time
    PROCESSING = "processing"  # leased to a worker until its lease expires
    DONE = "done"


# A worker may still take up an active job; a terminal one is never run again.
ACTIVE_JOB_STATES = frozenset({JobState.QUEUED, JobState.PROCESSING})
TERMINAL_JOB_STATES = frozenset({JobState.DONE})


class WorkScheduler(Protocol):
    """What the API needs of the work channel: put an item on it for a due time.

    The worker's `WorkQueue` is the one implementation; the API names only this, so the
    HTTP layer does not depend on the worker's internals."""

    @property
    def depth(self) -> int:
        """Items this process holds, queued or running."""
        ...

    def schedule(self, item: str, due_at: datetime) -> bool:
        """Queue `item` for `due_at`; False when this process is full (the poller retries)."""
        ...

    def nudge(self) -> None:
        """The time has jumped (a test clock's advance): look at due work now, not later."""
        ...
