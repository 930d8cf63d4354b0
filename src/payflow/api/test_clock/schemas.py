"""Wire shapes of the test clock (camelCase msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from payflow.testclock import MAX_ADVANCE_SECONDS
from payflow.timefmt import isoformat


class AdvanceRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/test-clock/advance`."""

    seconds: Annotated[
        int | float,
        Meta(
            ge=0,
            le=MAX_ADVANCE_SECONDS,
            description="how far to move the clock on, in seconds (fractions allowed)",
            examples=[90],
        ),
    ]


class TestClockOut(msgspec.Struct, rename="camel"):
    """The clock: its mode and payflow's time now (ISO 8601 UTC)."""

    __test__ = False  # not a test class, whatever its name

    mode: Literal["real", "test"]
    now: str


def clock_out(mode: Literal["real", "test"], now: datetime) -> TestClockOut:
    return TestClockOut(mode=mode, now=isoformat(now))


CLOCK_EXAMPLE = {"mode": "test", "now": "2026-11-22T20:48:31.123Z"}
