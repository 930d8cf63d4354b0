"""Time on the wire and in the database: UTC, millisecond precision, ISO 8601 with `Z`.

MongoDB keeps milliseconds, so `utc_now` truncates to them: a time written and read
back compares equal, and tests can inject a clock that does the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def isoformat(moment: datetime) -> str:
    """`2026-11-22T20:47:01.123Z` (naive datetimes from the driver are UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def as_utc(moment: datetime) -> datetime:
    """The driver returns naive UTC datetimes unless told otherwise."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
