"""The test clock over HTTP: `GET /api/test-clock`, `POST /api/test-clock/advance`.

Only in `[clock] mode = "test"`; with the real clock both paths are 404 not-found, as
if they did not exist, so a production-like run cannot have its time moved. An advance
needs no Idempotency-Key: like Stripe's test-clock advance, a retried one moves the
clock again, which a test notices at once in the `now` it gets back.

Database round trips: `GET` 0 (the process's copy of the shared time); `POST …/advance`
1 (an atomic `$inc` of the clock document, `store/mongo/clock.py`).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from payflow.api.body import decode_json_object
from payflow.api.dependencies import Queue, TestClockDep, provide
from payflow.api.openapi import example_response
from payflow.api.problems import problems
from payflow.api.test_clock.schemas import CLOCK_EXAMPLE, TestClockOut, clock_out, parse_advance
from payflow.errors import NotFound
from payflow.testclock import TestClock


def _running(test_clock: TestClock | None) -> TestClock:
    """The test clock, or the `not-found` problem on the real clock."""
    if test_clock is None:
        raise NotFound('The test clock is off: start payflow with [clock] mode = "test".')
    return test_clock


class TestClockController(Controller):
    """Read and move payflow's time (test mode only)."""

    __test__ = False  # not a test class, whatever its name
    path = "/api/test-clock"
    tags = ["test clock"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("test_clock", "queue")

    @get(
        "/",
        summary="payflow's time now (test mode)",
        responses={
            200: example_response(TestClockOut, "The clock", clock=CLOCK_EXAMPLE),
            **problems(404, s404="payflow runs on the real clock"),
        },
        sync_to_thread=False,
    )
    def show(self, test_clock: TestClockDep) -> TestClockOut:
        return clock_out("test", _running(test_clock)())

    @post(
        "/advance",
        status_code=200,
        summary="Move payflow's time on; work that becomes due runs now",
        responses={
            200: example_response(TestClockOut, "The clock after the advance", clock=CLOCK_EXAMPLE),
            **problems(400, 404, s404="payflow runs on the real clock"),
        },
    )
    async def advance(
        self, request: Request[Any, Any, Any], test_clock: TestClockDep, queue: Queue
    ) -> TestClockOut:
        clock = _running(test_clock)
        seconds = parse_advance(decode_json_object(await request.body()))
        now = await clock.advance(seconds)
        queue.nudge()  # work the jump made due runs now, not after the poll interval
        return clock_out("test", now)
