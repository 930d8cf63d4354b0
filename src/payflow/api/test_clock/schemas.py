"""Wire shapes of the test clock (camelCase msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from payflow.api.body import convert_body
from payflow.errors import ValidationFailed
from payflow.testclock import MAX_ADVANCE_SECONDS
from payflow.timefmt import isoformat


class AdvanceRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/test-clock/advance`."""

    seconds: Annotated[
        int | Decimal,
        Meta(
            description=(
                f"how far to move the clock on: seconds, 0 to {MAX_ADVANCE_SECONDS} "
                "(fractions allowed)"
            ),
            examples=[90],
        ),
    ]


def parse_advance(payload: dict[str, Any]) -> float:
    """The seconds of an advance body; a 400 with the field when out of range."""
    seconds = Decimal(convert_body(payload, AdvanceRequest).seconds)
    if not (seconds.is_finite() and 0 <= seconds <= MAX_ADVANCE_SECONDS):
        message = f"must be a number from 0 to {MAX_ADVANCE_SECONDS}"
        raise ValidationFailed([{"field": "seconds", "message": message}])
    return float(seconds)


class TestClockOut(msgspec.Struct, rename="camel"):
    """The clock: its mode and payflow's time now (ISO 8601 UTC)."""

    __test__ = False  # not a test class, whatever its name

    mode: Literal["real", "test"]
    now: str


def clock_out(mode: Literal["real", "test"], now: datetime) -> TestClockOut:
    return TestClockOut(mode=mode, now=isoformat(now))


CLOCK_EXAMPLE = {"mode": "test", "now": "2026-11-22T20:48:31.123Z"}
