"""How hard the adversarial suites push: CI-bounded by default, 100x under `scripts/soak`.

`PAYFLOW_FUZZ_SCALE` multiplies every example count. At scale 1 (CI) Hypothesis is
derandomized, so a run is the same run every time; above it, `scripts/soak` passes
`--hypothesis-seed` so a soak explores new ground and prints the seed to replay it.

`PAYFLOW_FUZZ_DEADLINE` (Unix time, set by `scripts/soak`) bounds a run: the conftest
gives each test an equal share of the time left when it starts, and a test whose share
is spent stops doing work (its remaining examples return at once), so every test of a
suite gets its turn within the soak's budget.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("PAYFLOW_FUZZ_SCALE", "1") or "1"))
SOAK = SCALE > 1
DEADLINE = float(os.environ.get("PAYFLOW_FUZZ_DEADLINE", "0") or "0")
SEED = os.environ.get("PAYFLOW_FUZZ_SEED", "ci")  # for the seeded random loops
F = TypeVar("F", bound=Callable[..., Any])


class _Budget:
    share_ends = 0.0  # when the running test's share of the deadline is spent; 0: never


BUDGET = _Budget()


def start_share(tests_left: int) -> None:
    """Called as each test starts: its share is the time left over the tests left."""
    if DEADLINE:
        now = time.time()
        BUDGET.share_ends = now + max(0.0, DEADLINE - now) / max(1, tests_left)


def out_of_time() -> bool:
    return bool(BUDGET.share_ends) and time.time() > BUDGET.share_ends


def budgeted(rule: F) -> F:
    """A state-machine rule that does nothing once the test's share of time is spent."""

    @functools.wraps(rule)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return None if out_of_time() else rule(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# suite → counters ("examples", "5xx", "violations", "false_accepts"); printed by the conftest.
STATS: defaultdict[str, Counter[str]] = defaultdict(Counter)


def scaled(count: int) -> int:
    return count * SCALE


def fuzz_settings(examples: int, **changes: Any) -> settings:
    """Hypothesis settings for `examples` examples at the current scale."""
    options: dict[str, Any] = {
        "max_examples": scaled(examples),
        "derandomize": not SOAK,
        "database": None,
        "deadline": None,
        "print_blob": True,
        "suppress_health_check": [
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    }
    options.update(changes)
    return settings(**options)


def count(suite: str, **counters: int) -> None:
    STATS[suite].update(counters)
