"""Cursor pages, one way for every list: a bad cursor is a 400, the next page a `Link`."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlencode

from payflow.errors import ValidationFailed
from payflow.store.base import InvalidCursor

T = TypeVar("T")


async def read_page(page: Awaitable[T]) -> T:
    """Await a store's page; a cursor it cannot read is the client's `validation-error`."""
    try:
        return await page
    except InvalidCursor as exc:
        raise ValidationFailed([{"field": "cursor", "message": str(exc)}]) from None


def next_page_link(
    path: str, next_cursor: str | None, limit: int, **filters: str | None
) -> dict[str, str]:
    """Response headers linking the page after this one (none after the last page).

    The link repeats the request's filters (in the order given, unset ones left out),
    so following it pages through the same selection.
    """
    if next_cursor is None:
        return {}
    query = [(name, value) for name, value in filters.items() if value is not None]
    query += [("limit", str(limit)), ("cursor", next_cursor)]
    # Percent-encoded: a filter value may hold `&`, `#`, `>` or spaces.
    return {"Link": f'<{path}?{urlencode(query, safe=":")}>; rel="next"'}
