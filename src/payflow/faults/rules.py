"""Which fault rule, if any, applies to a request: pure functions over the rules.

A rule matches when its method (none: any method) is the request's and its path glob
matches the request's path, as `fnmatch` reads globs: `*` is any run of characters,
`/` included, `?` one character, `[…]` a set; `/api/orders*` covers an order's own
routes too. A rule whose `count` has run out matches nothing. Among the matching
rules the oldest is asked first; it fires with probability `rate`, drawn from the
process's generator (`[faults] seed` makes the draws repeatable); if it does not fire,
the next matching rule is asked. Only matching rules draw, so the requests a run sends
to other routes do not change which of its requests meet faults.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from fnmatch import fnmatchcase

from payflow.faults.kinds import Fault

# The rules' own routes never meet a rule: a rule that reset every request could not be
# removed. The `Payflow-Fault` header still works there.
EXEMPT_PREFIX = "/api/faults"


def rule_id_for(seed: str) -> str:
    """`flt_` + 24 hex digits derived from the creating request's idempotency seed: a
    retry that takes over a request that died after its insert finds that same rule."""
    return f"flt_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    path: str  # a glob over the request path
    fault: Fault
    rate: float  # 0-1: the share of matching requests that meet the fault
    created_at: datetime
    method: str | None = None  # upper case; None: every method
    count: int | None = None  # how many times it may fire in all; None: no limit
    remaining: int | None = None  # what is left of `count`
    injected: int = 0  # how many times it fired, in every process

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def fired(self) -> FaultRule:
        remaining = None if self.remaining is None else self.remaining - 1
        return replace(self, remaining=remaining, injected=self.injected + 1)


def matches(rule: FaultRule, method: str, path: str) -> bool:
    if rule.exhausted or path.startswith(EXEMPT_PREFIX):
        return False
    if rule.method is not None and rule.method != method.upper():
        return False
    return fnmatchcase(path, rule.path)


class RuleChooser:
    """Decides, request by request, which rule fires; one per process, seeded or not."""

    def __init__(self, seed: int | None) -> None:
        # Not for secrets: a fault is a test aid, and a seed must make it repeatable.
        self._random = random.Random(seed)  # noqa: S311

    def choose(self, rules: Iterable[FaultRule], method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request (rules oldest first), or None."""
        for rule in rules:
            if matches(rule, method, path) and self._random.random() < rule.rate:
                return rule
        return None
