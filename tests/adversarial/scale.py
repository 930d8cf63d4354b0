"""How hard the adversarial suites push: CI-bounded by default, 100x under `scripts/soak`.

At scale 1 (CI) every Hypothesis test runs its CI-sized round once, derandomized, so a
run is the same run every time. `PAYFLOW_FUZZ_SCALE=N` (`scripts/soak`) repeats that
round up to N times, each with its own seed (from `PAYFLOW_FUZZ_SEED`, so a soak can be
replayed), and scales the seeded random loops N times.

`PAYFLOW_FUZZ_DEADLINE` (Unix time, set by `scripts/soak`) bounds a soak: the conftest
gives each test an equal share of the time left when it starts, and a test starts no
new round once its share is spent, so every test of a suite gets its turn.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

SCALE = max(1, int(os.environ.get("PAYFLOW_FUZZ_SCALE", "1") or "1"))
SOAK = SCALE > 1
DEADLINE = float(os.environ.get("PAYFLOW_FUZZ_DEADLINE", "0") or "0")
SEED = os.environ.get("PAYFLOW_FUZZ_SEED", "ci")  # seeds a soak's rounds and random loops
# suite → counters ("examples", "5xx", "violations", "false_accepts"); printed by the conftest.
STATS: defaultdict[str, Counter[str]] = defaultdict(Counter)
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


def rounds(name: str) -> Iterator[str]:
    """Seeds for the rounds of one test: one round in CI, up to SCALE in a soak."""
    for index in range(SCALE):
        if index and out_of_time():
            return
        yield f"{SEED}-{name}-{index}"


def soaked(test: F) -> F:
    """A `@given` test, run for as many rounds as the scale and the budget allow."""
    if not SOAK:
        return test

    @functools.wraps(test)
    def repeated(*args: Any, **kwargs: Any) -> None:
        params = [f"{k}={v}" for k, v in sorted(kwargs.items()) if isinstance(v, str | int)]
        for round_seed in rounds(f"{test.__name__}[{','.join(params)}]"):
            seed(round_seed)(test)(*args, **kwargs)

    return repeated  # type: ignore[return-value]


def scaled(count: int) -> int:
    return count * SCALE


def fuzz_settings(examples: int, **changes: Any) -> settings:
    """Hypothesis settings for one round of `examples` examples."""
    options: dict[str, Any] = {
        "max_examples": examples,  # per round: `soaked` repeats rounds in a soak
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
