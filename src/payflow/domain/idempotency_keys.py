"""Idempotency keys: the states of a key's record (the machine itself: payflow.idempotency).

absent ──claim──▶ in_progress ──complete──▶ completed ──(retention)──▶ absent
"""

from __future__ import annotations

from enum import StrEnum


class KeyState(StrEnum):
    IN_PROGRESS = "in_progress"  # a request holds the key (under a lease) and is running
    COMPLETED = "completed"  # the response is kept: the key's retries replay it


# An active key answers its retries with 409; a terminal one replays its response.
ACTIVE_KEY_STATES = frozenset({KeyState.IN_PROGRESS})
TERMINAL_KEY_STATES = frozenset({KeyState.COMPLETED})
