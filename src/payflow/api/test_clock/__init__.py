"""`/api/test-clock`: read and advance payflow's time in `[clock] mode = "test"`."""

from payflow.api.test_clock.controller import TestClockController

__all__ = ["TestClockController"]
