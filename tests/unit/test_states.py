"""Every state of a job, a delivery and an idempotency key is either active or terminal,
never both: a state added later must say which it is."""

from __future__ import annotations

from enum import StrEnum

import pytest

from payflow.domain.deliveries import (
    ACTIVE_DELIVERY_STATES,
    TERMINAL_DELIVERY_STATES,
    DeliveryState,
)
from payflow.domain.idempotency_keys import ACTIVE_KEY_STATES, TERMINAL_KEY_STATES, KeyState
from payflow.domain.jobs import ACTIVE_JOB_STATES, TERMINAL_JOB_STATES, JobState


@pytest.mark.parametrize(
    ("states", "active", "terminal"),
    [
        (JobState, ACTIVE_JOB_STATES, TERMINAL_JOB_STATES),
        (DeliveryState, ACTIVE_DELIVERY_STATES, TERMINAL_DELIVERY_STATES),
        (KeyState, ACTIVE_KEY_STATES, TERMINAL_KEY_STATES),
    ],
)
def test_each_state_is_active_or_terminal_and_not_both(
    states: type[StrEnum], active: frozenset[StrEnum], terminal: frozenset[StrEnum]
) -> None:
    assert active | terminal == set(states)
    assert not active & terminal


def test_states_are_stored_as_the_strings_they_always_were() -> None:
    assert [s.value for s in JobState] == ["queued", "processing", "done"]
    assert [s.value for s in DeliveryState] == ["pending", "processing", "succeeded", "dead"]
    assert [s.value for s in KeyState] == ["in_progress", "completed"]
