"""What a fault is, as the `Payflow-Fault` header and the rules of `/api/faults` spell it.

    error-500 | error-503 | timeout | reset | slow=<ms>
    after-commit:error-500 | after-commit:reset | after-commit:timeout

Every fault but `slow` means the client gets no useful answer. Without `after-commit`
the request is not executed at all; with it the request takes full effect (its
idempotency record included) and only the answer is lost, so a retry with the same
Idempotency-Key gets the replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
