"""Who may call the API, how often, and from which browser origins (DESIGN §2).

- API keys (`[auth] api_keys`, off when empty): every `/api` route but the webhook
  receiver (which has its own signatures) wants `Authorization: Bearer <key>`. The
  token is compared with every configured key in constant time, so neither timing nor
  the position of the match in the list says anything. The request's client is then
  the key's id (a hash, so keys never reach the database or the logs), which
  `Runtime.scope_for` uses to scope idempotency keys and data.
- Rate limits (`[rate_limit]`, off by default): Litestar's fixed-window limiter, per
  client: the API key when one is valid, else the peer address. Over the limit is a
  429 `rate-limited` problem with `Retry-After`.
- CORS (`[cors] allow_origins`): Litestar's CORS support, so a page served by a dev
  server (Vite's :5173 by default) can call the API, send `Idempotency-Key`, and read
  `Location`, `Link`, `Idempotent-Replayed` and `Retry-After`.

Routes outside `/api` (health, metrics, Swagger, problem docs) are never limited and
need no key, and neither does a handler marked `opt={PUBLIC: True}`.

Database round trips: none; keys come from settings and the limiter counts in memory
(per process: N processes allow N times the rate).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp

from payflow.config import Settings
from payflow.errors import Unauthorized

PUBLIC = "public"  # route opt key: no API key, no rate limit (the webhook receiver)
# Health, metrics, Swagger, problem docs: any path but /api/… (the trailing `.` keeps
# Litestar from mistaking the pattern for one that excludes every path).
OUTSIDE_API = r"^/(?!api/)."
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-Id",
    "Payflow-Fault",  # a page in the browser can ask for faults too (payflow.faults)
]
EXPOSED_HEADERS = [
    "Location",
    "Idempotent-Replayed",
    "Link",
    "Retry-After",
    "X-Request-Id",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def matching_key(token: str | None, keys: Sequence[str]) -> str | None:
    """The configured key equal to `token`, compared in constant time with every key."""
    if token is None:
        return None
    presented = token.encode()
    found = None
    for key in keys:  # no early exit: the time taken does not depend on which key matched
        if hmac.compare_digest(presented, key.encode()):
            found = key
    return found


def client_id(key: str) -> str:
    """What the database and logs know of a key: a stable hash, never the key itself."""
    return f"key_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class ApiKeyAuth(AbstractAuthenticationMiddleware):
    """Requires a configured API key; the client id goes to `scope["user"]`."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        super().__init__(app, exclude=OUTSIDE_API, exclude_from_auth_key=PUBLIC)
        self.keys = tuple(keys)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = bearer_token(connection.headers.get("authorization"))
        if token is None:
            raise Unauthorized(
                "Send your API key as `Authorization: Bearer sk_test_…`.", invalid_token=False
            )
        key = matching_key(token, self.keys)
        if key is None:
            raise Unauthorized("This API key is not valid.", invalid_token=True)
        return AuthenticationResult(user=client_id(key), auth=None)


def middleware(settings: Settings) -> list[DefineMiddleware]:
    """Rate limiting first (so failed logins count too), then authentication."""
    stack: list[DefineMiddleware] = []
    keys = settings.auth.api_keys
    if settings.rate_limit.enabled:
        stack.append(
            RateLimitConfig(
                rate_limit=("minute", settings.rate_limit.requests_per_minute),
                exclude=OUTSIDE_API,
                exclude_opt_key=PUBLIC,
                identifier_for_request=lambda request: rate_limit_identity(request, keys),
            ).middleware
        )
    if keys:
        stack.append(DefineMiddleware(ApiKeyAuth, keys=keys))
    return stack


def rate_limit_identity(connection: ASGIConnection[Any, Any, Any, Any], keys: Sequence[str]) -> str:
    """The client a limit applies to: its valid API key, else its address."""
    key = matching_key(bearer_token(connection.headers.get("authorization")), keys)
    if key is not None:
        return client_id(key)
    return f"addr:{connection.client.host if connection.client else 'unknown'}"


def openapi_security(settings: Settings) -> dict[str, Any]:
    """With API keys on, Swagger UI gets an Authorize button for the bearer key."""
    if not settings.auth.api_keys:
        return {}
    scheme = SecurityScheme(
        type="http",
        scheme="bearer",
        description=(
            "A key from `[auth] api_keys`, e.g. `sk_test_…`. Needed on every /api route but "
            "the webhook receiver; each key sees only its own orders."
        ),
    )
    return {
        "components": Components(security_schemes={"apiKey": scheme}),
        "security": [{"apiKey": []}],
    }


def cors_config(settings: Settings) -> CORSConfig | None:
    origins = settings.cors.allow_origins
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,  # API keys travel in a header, never in cookies
        max_age=600,
    )
