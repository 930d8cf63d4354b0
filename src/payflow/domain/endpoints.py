"""Webhook endpoints: where events go, how they are signed, which ones they want."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_ENDPOINT_ID = "we_default"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    scheme: str
    secrets: Sequence[str]  # the first signs; all are sent during a rotation window
    events: Sequence[str] = ("*",)

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """Deterministic: one delivery per (event, endpoint), however often a step re-runs."""
    digest = hashlib.sha256(f"{event_id}:{endpoint_id}".encode()).hexdigest()
    return f"dlv_{digest[:24]}"
