"""Webhook endpoints: where events go, how they are signed, which ones they want.

An endpoint registered through the API keeps every secret it was given, newest
first, each with the moment it stops being used (`None` for the current one).
Rotating puts a fresh secret in front and gives the previous ones a grace
period, during which deliveries carry one signature per secret (DESIGN §1.3:
a receiver accepts any `v1` that matches), so a merchant can switch secrets
without dropping a single webhook. Which secrets are active is decided from
the time the caller passes in, never from a clock of its own.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from payflow.domain.endpoint_health import Chaos, Health

DEFAULT_ENDPOINT_ID = "we_default"
ALL_EVENTS = "*"
SCHEMES = ("payflow", "stripe", "standard")
MAX_URL_LENGTH = 2048


# Far above the API's cap on registered endpoints, so a race past the cap loses nothing.
LOAD_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    scheme: str
    secrets: Sequence[str]  # the first signs; all are sent during a rotation window
    events: Sequence[str] = (ALL_EVENTS,)
    health: Health = field(default_factory=Health)
    chaos: Chaos = field(default_factory=Chaos)

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class SecretVersion:
    secret: str
    expires_at: datetime | None = None  # None: the current secret


@dataclass(frozen=True, slots=True)
class RegisteredEndpoint:
    """An endpoint as stored: all its secrets, with their expiry, and a version for CAS."""

    id: str
    url: str
    scheme: str
    events: Sequence[str]
    description: str | None
    secrets: Sequence[SecretVersion]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    health: Health = field(default_factory=Health)  # its own compare-and-set (`version`)
    chaos: Chaos = field(default_factory=Chaos)

    def active_secrets(self, now: datetime) -> list[str]:
        """Newest first; an expired secret is gone even before a rotation prunes it."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now]

    def previous_secrets_expire_at(self, now: datetime) -> datetime | None:
        """When the last still-valid previous secret stops signing (None outside a rotation)."""
        ends = [s.expires_at for s in self.secrets if s.expires_at and s.expires_at > now]
        return max(ends, default=None)

    def at(self, now: datetime) -> Endpoint:
        """What the sender needs at `now`."""
        return Endpoint(
            self.id,
            self.url,
            self.scheme,
            self.active_secrets(now),
            self.events,
            self.health,
            self.chaos,
        )

    def rotated(self, new_secret: str, now: datetime, grace: timedelta) -> RegisteredEndpoint:
        """`new_secret` signs from now on; the others stay valid until `now + grace` at most."""
        until = now + grace
        kept = [
            SecretVersion(s.secret, until if s.expires_at is None else min(s.expires_at, until))
            for s in self.secrets
            if s.expires_at is None or s.expires_at > now
        ]
        kept = [s for s in kept if s.expires_at is not None and s.expires_at > now]  # grace 0
        return replace(
            self,
            secrets=[SecretVersion(new_secret), *kept],
            updated_at=now,
            version=self.version + 1,
        )


def new_endpoint_id() -> str:
    return f"we_{random_secrets.token_hex(12)}"


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """Deterministic: one delivery per (event, endpoint), however often a step re-runs."""
    digest = hashlib.sha256(f"{event_id}:{endpoint_id}".encode()).hexdigest()
    return f"dlv_{digest[:24]}"


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None: absolute http(s), a host, plain ASCII."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        return "must be ASCII without spaces or control characters (punycode for IDN hosts)"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in {"http", "https"}:
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if port == 0:
        return "must not use port 0"
    if parts.fragment:
        return "must not contain a #fragment (it is never sent)"
    return None


def events_problem(events: Sequence[str], known: Sequence[str]) -> str | None:
    """Why this list of event types cannot be subscribed to, or None."""
    if not events:
        return f"must list at least one event type, or {ALL_EVENTS!r} for all"
    unknown = sorted({e for e in events if e != ALL_EVENTS and e not in known})
    if unknown:
        return f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(known)}, or *"
    return None


class EndpointRegistry(Protocol):
    """What the API needs of the in-memory endpoint list the worker sends to: the built-in
    endpoint, and a refresh after this process changed the registered ones."""

    @property
    def built_in(self) -> Endpoint: ...

    async def refresh(self) -> None: ...
