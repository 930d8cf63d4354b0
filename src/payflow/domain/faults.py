"""Faults on demand, the pure part: what a fault is, and which rule applies to a request.

Spelling, as the `Payflow-Fault` header and the rules of `/api/faults` write a fault:

    error-500 | error-503 | timeout | reset | slow=<ms>
    after-commit:error-500 | after-commit:reset | after-commit:timeout

Every fault but `slow` means the client gets no useful answer. Without `after-commit`
the request is not executed at all; with it the request takes full effect (its
idempotency record included) and only the answer is lost, so a retry with the same
Idempotency-Key gets the replay.

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
from enum import StrEnum
from fnmatch import fnmatchcase

AFTER_COMMIT = "after-commit:"
SLOW_PREFIX = "slow="
MAX_SLOW_MS = 60_000


class FaultKind(StrEnum):
    ERROR_500 = "error-500"
    ERROR_503 = "error-503"
    TIMEOUT = "timeout"  # hold for [faults] timeout_seconds, then close unanswered
    RESET = "reset"  # close the connection at once, unanswered (TCP RST)
    SLOW = "slow"  # answer normally after a delay


# What may follow `after-commit:`: a delay after the commit would be just `slow`, a 503
# would tell the client that nothing happened, which would be a lie.
AFTER_COMMIT_KINDS = frozenset({FaultKind.ERROR_500, FaultKind.RESET, FaultKind.TIMEOUT})
ACCEPTED_FORMS = (
    "error-500, error-503, timeout, reset, slow=<ms> (0-60000), "
    "after-commit:error-500, after-commit:reset or after-commit:timeout"
)


class InvalidFault(ValueError):
    """A fault spelled in none of the accepted forms; `str()` says which forms exist."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    after_commit: bool = False
    slow_ms: int = 0

    def __str__(self) -> str:
        """The canonical spelling, as rules are stored and shown."""
        if self.kind is FaultKind.SLOW:
            return f"{SLOW_PREFIX}{self.slow_ms}"
        return f"{AFTER_COMMIT}{self.kind}" if self.after_commit else str(self.kind)

    @property
    def label(self) -> str:
        """The metrics label: the spelling without the delay, so labels stay few."""
        return str(FaultKind.SLOW) if self.kind is FaultKind.SLOW else str(self)


def parse_fault(text: str) -> Fault:
    """`text` as a fault (surrounding spaces and letter case ignored), else `InvalidFault`."""
    spelled = text.strip().lower()
    after_commit = spelled.startswith(AFTER_COMMIT)
    if after_commit:
        spelled = spelled.removeprefix(AFTER_COMMIT)
    if spelled.startswith(SLOW_PREFIX) and not after_commit:
        digits = spelled.removeprefix(SLOW_PREFIX)
        if digits.isascii() and digits.isdigit() and len(digits) <= 5:
            ms = int(digits)
            if ms <= MAX_SLOW_MS:
                return Fault(FaultKind.SLOW, slow_ms=ms)
        raise InvalidFault(f"slow needs whole milliseconds from 0 to {MAX_SLOW_MS}")
    try:
        kind = FaultKind(spelled)
    except ValueError:
        raise InvalidFault(f"unknown fault {text[:60]!r}; one of {ACCEPTED_FORMS}") from None
    if kind is FaultKind.SLOW or (after_commit and kind not in AFTER_COMMIT_KINDS):
        raise InvalidFault(f"unknown fault {text[:60]!r}; one of {ACCEPTED_FORMS}")
    return Fault(kind, after_commit=after_commit)


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
