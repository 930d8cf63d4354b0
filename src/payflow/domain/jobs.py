"""What travels on the work channel: a job kind and the id of the document it is about.

The channel carries short strings only (`o:<order id>`), so nothing lives only in memory:
the poller can re-feed any of them from MongoDB. The API enqueues, the worker consumes;
both name the kinds from here.
"""

from __future__ import annotations

from enum import StrEnum


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
