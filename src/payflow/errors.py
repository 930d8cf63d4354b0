"""payflow's exception tree and its mapping to RFC 9457 problem details.

Every error a client can see is a `PayflowError`: one small class per problem type,
each with a stable `type` URI ending in its slug and the one description of that slug
that `GET /problems/{slug}` serves (`problem_docs`). Litestar's own problem-details
plugin renders them; `problem_for` turns Litestar's built-in exceptions (unknown
route, bad query parameter, body too large…) and a database outage into the same
shape, so no input, however odd, reaches the client as anything but
`application/problem+json`.

    PayflowError (internal-error, 500)
    ├── ValidationFailed, BadRequest, IdempotencyKeyMissing, IdempotencyKeyInvalid  400
    ├── Unauthorized, InvalidSignature                                              401
    ├── NotFound 404 · MethodNotAllowed 405 · PayloadTooLarge 413
    ├── IdempotencyKeyReused                                                        422
    ├── IdempotencyInProgress, OrderExists, OrderNotCancelable, OrderNotCapturable,
    │   OrderNotRefundable, RefundExceedsRemaining, DeliveryNotFinished,
    │   EndpointBuiltIn, EndpointLimitReached, FaultRuleLimitReached,
    │   BalanceInsufficient, PaymentMethodDuplicated, PaymentMethodWasDetached,
    │   PaymentMethodAttachedElsewhere                                              409
    ├── RateLimited                                                                 429
    ├── FaultInjected (500, or 503 for `error-503`)
    └── Unavailable (service-unavailable)                                           503
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import structlog
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_429_TOO_MANY_REQUESTS

from payflow.store.base import StoreUnavailable

PROBLEM_TYPE_BASE = (
    "/problems/"  # relative URI (RFC 9457 §3.1.1), documented at GET /problems/{slug}
)

log = structlog.get_logger(__name__)


def problem_type(slug: str) -> str:
    return f"{PROBLEM_TYPE_BASE}{slug}"


class PayflowError(ProblemDetailsException):
    """Base of every error a client sees. Subclasses fix `slug`, `status`, `problem_title`
    and `description`, the one explanation of the slug (served at its `type` URI)."""

    slug: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    problem_title: ClassVar[str] = "Internal error"
    description: ClassVar[str] = "Something payflow did not expect; it has been logged."

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(
            detail=detail,
            status_code=self.status if status_code is None else status_code,
            headers=headers,
            extra=extra,
            type_=problem_type(self.slug),
            title=self.problem_title,
        )


class ValidationFailed(PayflowError):
    slug, status, problem_title = "validation-error", 400, "Your request is not valid"
    description = "The request breaks the contract; `errors` lists each field and why."

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        detail = detail or "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(detail, extra={"errors": errors})


class BadRequest(PayflowError):
    """Any other 4xx Litestar refuses a request with (its status is kept)."""

    slug, status, problem_title = "bad-request", 400, "Bad request"
    description = "The request cannot be read."


class IdempotencyKeyMissing(PayflowError):
    slug, status, problem_title = "idempotency-key-missing", 400, "Idempotency-Key header required"
    description = "Every POST that creates or changes something needs an Idempotency-Key header."


class IdempotencyKeyInvalid(PayflowError):
    slug, status, problem_title = (
        "idempotency-key-invalid",
        400,
        "Idempotency-Key header is not valid",
    )
    description = "The Idempotency-Key is over 255 characters or not printable ASCII."


class IdempotencyKeyReused(PayflowError):
    slug, status, problem_title = (
        "idempotency-key-reused",
        422,
        "Idempotency-Key reused with another request",
    )
    description = "The key was first used with a different request body."


class IdempotencyInProgress(PayflowError):
    slug, status, problem_title = (
        "idempotency-in-progress",
        409,
        "A request with this key is in progress",
    )
    description = "The first request with this key is still running; see Retry-After."

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "The original request with this Idempotency-Key has not finished; retry later.",
            headers={"Retry-After": str(retry_after)},
        )


class OrderExists(PayflowError):
    slug, status, problem_title = "order-exists", 409, "Order already exists"
    description = "Another request already created an order with this orderNumber."


class OrderNotCancelable(PayflowError):
    slug, status, problem_title = "order-not-cancelable", 409, "Order can no longer be canceled"
    description = "Only a Pending or Authorized order can be canceled."


class OrderNotCapturable(PayflowError):
    slug, status, problem_title = "order-not-capturable", 409, "Order cannot be captured"
    description = "Only an Authorized order can be captured, and only once."


class OrderNotRefundable(PayflowError):
    slug, status, problem_title = "order-not-refundable", 409, "Order cannot be refunded"
    description = "Only a Paid or PartiallyRefunded order can be refunded."


class RefundExceedsRemaining(PayflowError):
    slug, status, problem_title = (
        "refund-exceeds-remaining",
        409,
        "Refund exceeds the amount left to refund",
    )
    description = "The refund is more than what is left to refund on the order."


class Unauthorized(PayflowError):
    """API keys are on and the request carries none, or not a valid one (RFC 6750)."""

    slug, status, problem_title = "unauthorized", 401, "A valid API key is required"
    description = "Send a configured API key as `Authorization: Bearer <key>`."

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        challenge = 'Bearer realm="payflow"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class DeliveryNotFinished(PayflowError):
    slug, status, problem_title = "delivery-not-finished", 409, "Delivery still in progress"
    description = "Only a succeeded or dead delivery can be redelivered."


class EndpointBuiltIn(PayflowError):
    slug, status, problem_title = "endpoint-built-in", 409, "The built-in endpoint is read-only"
    description = "The built-in webhook endpoint is set in config, not through the API."


class EndpointLimitReached(PayflowError):
    slug, status, problem_title = "endpoint-limit-reached", 409, "Too many webhook endpoints"
    description = "Delete a webhook endpoint first ([webhooks] max_endpoints)."


class FaultRuleLimitReached(PayflowError):
    slug, status, problem_title = "fault-rule-limit-reached", 409, "Too many fault rules"
    description = "Delete a fault rule first (at most 100)."


class FaultInjected(PayflowError):
    """A fault the client asked for: its `Payflow-Fault` header, or a rule of /api/faults.
    `error-503` is the same problem with `status_code=503` and a Retry-After."""

    slug, status, problem_title = "fault-injected", 500, "Fault injected on request"
    description = "The request asked for this failure (Payflow-Fault, or a fault rule)."


class BalanceInsufficient(PayflowError):
    slug, status, problem_title = "insufficient-balance", 409, "Insufficient balance"
    description = "The debit is more than the customer's available balance in that currency."


class PaymentMethodDuplicated(PayflowError):
    slug, status, problem_title = (
        "payment-method-duplicate",
        409,
        "The customer already has this card",
    )
    description = (
        "A card with the same fingerprint is attached to the customer already; "
        "`existingPaymentMethod` names it."
    )


class PaymentMethodWasDetached(PayflowError):
    slug, status, problem_title = (
        "payment-method-detached",
        409,
        "The payment method was detached",
    )
    description = "A detached payment method can be neither used nor attached again."


class PaymentMethodAttachedElsewhere(PayflowError):
    slug, status, problem_title = (
        "payment-method-attached",
        409,
        "The payment method belongs to another customer",
    )
    description = "The payment method is attached to another customer; detach it there first."


class NotFound(PayflowError):
    slug, status, problem_title = "not-found", 404, "Not found"
    description = "There is nothing at this path."


class MethodNotAllowed(PayflowError):
    slug, status, problem_title = "method-not-allowed", 405, "Method not allowed"
    description = "This path does not accept that HTTP method."


class InvalidSignature(PayflowError):
    slug, status, problem_title = "invalid-signature", 401, "Webhook signature verification failed"
    description = "The webhook signature is missing, malformed, stale or does not match."


class PayloadTooLarge(PayflowError):
    slug, status, problem_title = "payload-too-large", 413, "Request body too large"
    description = "The request body is over the size limit."


class RateLimited(PayflowError):
    slug, status, problem_title = "rate-limited", 429, "Too many requests"
    description = "Too many requests; see Retry-After."


class Unavailable(PayflowError):
    """Nothing was changed, so the request may be retried as it was."""

    slug, status, problem_title = "service-unavailable", 503, "Service temporarily unavailable"
    description = "The database cannot be reached right now; retry later."


def problem_classes() -> Iterator[type[PayflowError]]:
    """`PayflowError` and every subclass of it defined so far, each once."""
    seen: set[type[PayflowError]] = set()
    pending: list[type[PayflowError]] = [PayflowError]
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.add(cls)
            yield cls
            pending.extend(cls.__subclasses__())


def problem_docs() -> dict[str, str]:
    """Each slug payflow can answer with, and its one description."""
    return {cls.slug: cls.description for cls in problem_classes()}


def problem_for(exc: Exception) -> ProblemDetailsException:
    """Translate Litestar's and unexpected exceptions into payflow problems."""
    if isinstance(exc, PayflowError):
        return exc
    if isinstance(exc, StoreUnavailable):
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
            return BadRequest(str(exc.detail), headers=exc.headers, status_code=exc.status_code)
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
