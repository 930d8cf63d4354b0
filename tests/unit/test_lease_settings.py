"""A job's lease must outlast one webhook attempt, or a second worker could send it too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow.config import load_settings


def test_a_lease_no_longer_than_the_webhook_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYFLOW_PROCESSING__LEASE_SECONDS", "10")
    monkeypatch.setenv("PAYFLOW_WEBHOOKS__TIMEOUT_SECONDS", "10")
    with pytest.raises(ValidationError, match="lease_seconds must be longer"):
        load_settings()


def test_a_lease_longer_than_the_webhook_timeout_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYFLOW_PROCESSING__LEASE_SECONDS", "10")
    monkeypatch.setenv("PAYFLOW_WEBHOOKS__TIMEOUT_SECONDS", "5")
    assert load_settings().processing.lease_seconds == 10
