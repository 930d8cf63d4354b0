"""Retry delays: exponential growth with full jitter (AWS architecture blog's "full jitter").

Attempt n waits a uniformly random time in [0, min(cap, base·2ⁿ⁻¹)], so a burst of
failures spreads out instead of retrying in lock step.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number `attempt` (1 = first retry)."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return float(ceiling * rand())
