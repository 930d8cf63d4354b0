"""payflow's exception tree and its mapping to RFC 9457 problem details.

Every error a client can see is a `PayflowError`: one small class per problem type,
each with a stable `type` URI ending in its slug. Litestar's own problem-details
plugin renders them; `problem_for` turns Litestar's built-in exceptions (unknown
route, bad query parameter, body too large…) into the same shape, so no input,
however odd, reaches the client as anything but `application/problem+json`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from litestar import Request
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_429_TOO_MANY_REQUESTS

from payflow.store.mongo.common import UNAVAILABLE_ERRORS

PROBLEM_TYPE_BASE = (
    "/problems/"  # relative URI (RFC 9457 §3.1.1), documented at GET /problems/{slug}
)

log = structlog.get_logger(__name__)


def problem_type(slug: str) -> str:
    return f"{PROBLEM_TYPE_BASE}{slug}"


class PayflowError(ProblemDetailsException):
    """Base of every error a client sees. Subclasses fix `slug`, `status`, `problem_title`."""

    slug: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    problem_title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            detail=detail,
            status_code=self.status,
            headers=headers,
            extra=extra,
            type_=problem_type(self.slug),
            title=self.problem_title,
        )


class ValidationFailed(PayflowError):
    """The request (body, query, header) breaks the contract; `errors` says where."""

    slug, status, problem_title = "validation-error", 400, "Your request is not valid"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        detail = detail or "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(detail, extra={"errors": errors})


class IdempotencyKeyMissing(PayflowError):
    """A POST that creates something needs an Idempotency-Key header."""

    slug, status, problem_title = "idempotency-key-missing", 400, "Idempotency-Key header required"


class IdempotencyKeyInvalid(PayflowError):
    """The key is present but longer than 255 characters or not visible ASCII."""

    slug, status, problem_title = (
        "idempotency-key-invalid",
        400,
        "Idempotency-Key header is not valid",
    )


class IdempotencyKeyReused(PayflowError):
    """The key was first used with another request (different fingerprint)."""

    slug, status, problem_title = (
        "idempotency-key-reused",
        422,
        "Idempotency-Key reused with another request",
    )


class IdempotencyInProgress(PayflowError):
    """The first request with this key is still running; retry after a moment."""

    slug, status, problem_title = (
        "idempotency-in-progress",
        409,
        "A request with this key is in progress",
    )

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "The original request with this Idempotency-Key has not finished; retry later.",
            headers={"Retry-After": str(retry_after)},
        )


class OrderExists(PayflowError):
    """Another request (another key) already created an order with this orderNumber."""

    slug, status, problem_title = "order-exists", 409, "Order already exists"


class OrderNotCancelable(PayflowError):
    """Only a Pending order can be canceled; the payment outcome is already decided."""

    slug, status, problem_title = "order-not-cancelable", 409, "Order can no longer be canceled"


class OrderNotRefundable(PayflowError):
    """Only a Paid or PartiallyRefunded order can be refunded."""

    slug, status, problem_title = "order-not-refundable", 409, "Order cannot be refunded"


class RefundExceedsRemaining(PayflowError):
    """The refund is larger than what is left of the order's amount after earlier refunds."""

    slug, status, problem_title = (
        "refund-exceeds-remaining",
        409,
        "Refund exceeds the amount left to refund",
    )


class Unauthorized(PayflowError):
    """API keys are on and the request carries none, or not a valid one (RFC 6750)."""

    slug, status, problem_title = "unauthorized", 401, "A valid API key is required"

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        challenge = 'Bearer realm="payflow"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class DeliveryNotFinished(PayflowError):
    """Only a succeeded or dead delivery can be sent again."""

    slug, status, problem_title = "delivery-not-finished", 409, "Delivery still in progress"


class EndpointBuiltIn(PayflowError):
    """The built-in endpoint comes from settings: change it there, not through the API."""

    slug, status, problem_title = "endpoint-built-in", 409, "The built-in endpoint is read-only"


class EndpointLimitReached(PayflowError):
    """No more webhook endpoints can be registered (`[webhooks] max_endpoints`)."""

    slug, status, problem_title = "endpoint-limit-reached", 409, "Too many webhook endpoints"


class NotFound(PayflowError):
    slug, status, problem_title = "not-found", 404, "Not found"


class MethodNotAllowed(PayflowError):
    slug, status, problem_title = "method-not-allowed", 405, "Method not allowed"


class InvalidSignature(PayflowError):
    """A webhook whose signature is missing, malformed, stale or wrong."""

    slug, status, problem_title = "invalid-signature", 401, "Webhook signature verification failed"


class PayloadTooLarge(PayflowError):
    slug, status, problem_title = "payload-too-large", 413, "Request body too large"


class RateLimited(PayflowError):
    slug, status, problem_title = "rate-limited", 429, "Too many requests"


class Unavailable(PayflowError):
    """The database cannot be reached; nothing was changed, the request may be retried."""

    slug, status, problem_title = "service-unavailable", 503, "Service temporarily unavailable"


class FaultInjected(PayflowError):
    """A fault the client asked for: its `Payflow-Fault` header, or a rule of /api/faults."""

    slug, status, problem_title = "fault-injected", 500, "Fault injected on request"


class FaultInjectedUnavailable(FaultInjected):
    """`error-503`: the same injected fault, told as a passing outage (with Retry-After)."""

    status = 503


class FaultRuleLimitReached(PayflowError):
    """No more fault rules can be created; delete one first."""

    slug, status, problem_title = "fault-rule-limit-reached", 409, "Too many fault rules"


def problem_for(exc: Exception) -> ProblemDetailsException:
    """Translate Litestar's and unexpected exceptions into payflow problems."""
    if isinstance(exc, PayflowError):
        return exc
    if isinstance(exc, UNAVAILABLE_ERRORS):
        log.warning("database_unavailable", error=str(exc)[:300])
        return Unavailable(
            "The database cannot be reached right now; retry later "
            "(with the same Idempotency-Key for a POST).",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, NotFoundException):
        return NotFound("No resource at this path.")
    if isinstance(exc, MethodNotAllowedException):
        return MethodNotAllowed(str(exc.detail), headers=exc.headers)
    if isinstance(exc, ValidationException):
        return ValidationFailed(_litestar_validation_errors(exc), detail=str(exc.detail))
    if isinstance(exc, HTTPException):
        if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            return PayloadTooLarge("The request body exceeds the size limit.")
        if exc.status_code == HTTP_429_TOO_MANY_REQUESTS:
            return RateLimited("Slow down and retry later.", headers=_with_retry_after(exc.headers))
        if exc.status_code < 500:
            return ProblemDetailsException(
                detail=str(exc.detail),
                status_code=exc.status_code,
                headers=exc.headers,
                type_=problem_type("bad-request"),
                title="Bad request",
            )
    log.error("unhandled_error", exc_info=exc)
    return PayflowError("An unexpected error occurred; it has been logged.")


def _with_retry_after(headers: dict[str, str] | None) -> dict[str, str]:
    """Litestar's rate limiter says when its window resets (`RateLimit-Reset`, seconds);
    clients and proxies look for `Retry-After`, so say it there too."""
    headers = dict(headers or {})
    reset = headers.get("RateLimit-Reset", "")
    headers["Retry-After"] = str(max(int(reset), 1)) if reset.isdigit() else "1"
    return headers


def _litestar_validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append(
                    {"field": str(item.get("key", "")), "message": str(item.get("message", ""))}
                )
    return errors or [{"field": "", "message": str(exc.detail)}]


def problem_handler(request: Request[Any, Any, Any], exc: Exception) -> Any:
    """Litestar exception handler: every exception becomes a problem+json response."""
    return problem_for(exc).to_response(request)
