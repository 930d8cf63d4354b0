"""The merchant side: `POST /api/webhooks/payments` verifies, dedupes and applies events.

It reads the raw request bytes itself, the one handler besides the idempotent-POST
helper that does: the signature is computed over exactly those bytes.

The signature is checked on the raw body bytes before anything is parsed, with
constant-time comparison (`signing.verify`). An order moves Pending → Paid/Failed
only through one conditional update, so a duplicate or late event can never cause
a second transition. Every receipt, valid or not, is written to `payments`.

Database round trips: applied = 2 (conditional update; receipt — each batched with
concurrent receivers'; a batch whose updates did not all apply adds one read,
`batching.update_each`) plus the shared journal flush that makes both durable before the
200 (`store.mongo.journal`); duplicate = 4 (conditional update misses, read the order,
the applied receipt is refused, receipt);
any other outcome = 3 (conditional update misses, read the order to say why, receipt);
rejected = 1.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import msgspec
import structlog
from litestar import Controller, Request, post
from litestar.openapi import ResponseSpec

from payflow import signing
from payflow.api.access import PUBLIC
from payflow.api.body import decode_json_object
from payflow.api.dependencies import ReceiverDeps, provide
from payflow.api.problems import problems
from payflow.api.webhooks.docs import WebhookOperation
from payflow.api.webhooks.schemas import WebhookAck, WebhookEvent
from payflow.domain.events import TARGET_STATUS
from payflow.domain.money import CURRENCY_EXPONENTS, MoneyError, parse_amount, to_minor
from payflow.errors import InvalidSignature, ValidationFailed
from payflow.ids import token
from payflow.store.base import OrderStore, PaymentStore, Receipt

log = structlog.get_logger(__name__)

APPLIED, DUPLICATE, UNMATCHED, MISMATCH, IGNORED = (
    "applied",
    "duplicate",
    "unmatched",
    "mismatch",
    "ignored",
)
REJECTED, INVALID = "rejected", "invalid"


def new_receipt_id() -> str:
    return f"rcpt_{token(96)}"


def applied_receipt_id(event_key: str) -> str:
    """The one `applied` receipt an event can have: its id is derived from the event."""
    return f"rcpt_{hashlib.sha256(f'applied:{event_key}'.encode()).hexdigest()[:24]}"


class WebhooksController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("receiver_parts")

    @post(
        "/payments",
        status_code=200,
        opt={PUBLIC: True},  # authenticated by its signature, never by an API key
        summary="Receive a signed payment event",
        responses={
            200: ResponseSpec(WebhookAck, description="Received", generate_examples=False),
            **problems(400, 401, 413, s400="validation-error: signed, but not a payment event"),
        },
        operation_class=WebhookOperation,
        description=(
            "Accepts `X-Signature` (payflow), `Stripe-Signature` or Standard Webhooks headers. "
            "Outcomes: applied, duplicate, unmatched, mismatch, ignored — all 200."
        ),
    )
    async def receive_payment_webhook(
        self,
        request: Request[Any, Any, Any],
        receiver_parts: ReceiverDeps,
    ) -> WebhookAck:
        parts = receiver_parts  # one dependency: see api.dependencies
        orders, payments, metrics = parts.orders, parts.payments, parts.metrics
        settings, now = parts.settings, parts.now
        body = await request.body()
        headers = request.headers
        scheme = signing.detect_scheme(headers)
        receipt = Receipt(id=new_receipt_id(), received_at=now, outcome=REJECTED)
        if scheme is None:
            receipt.detail = "missing-signature"
            await payments.record(receipt)
            raise InvalidSignature(
                "No signature header: send X-Signature, Stripe-Signature or webhook-signature."
            )
        receipt.scheme = scheme.value
        try:
            signing.verify(
                scheme,
                body,
                headers,
                settings.webhook_secrets,
                int(now.timestamp()),
                settings.webhooks.tolerance_seconds,
            )
        except signing.SignatureError as exc:
            receipt.detail = exc.reason
            await payments.record(receipt)
            raise InvalidSignature(str(exc)) from None

        receipt.event_key = event_key(body, None)
        try:
            event = msgspec.convert(decode_json_object(body), WebhookEvent, strict=True)
        except (ValidationFailed, msgspec.ValidationError) as exc:
            receipt.outcome, receipt.detail = INVALID, str(exc)[:500]
            await payments.record(receipt)
            if isinstance(exc, ValidationFailed):
                raise
            raise ValidationFailed([{"field": "body", "message": str(exc)}]) from None

        key = event_key(body, event.id)
        receipt.event_key, receipt.event_id, receipt.event_type = key, event.id, event.type
        receipt.order_number = event.data.order_number
        receipt.outcome, receipt.detail, receipt.order_id = await apply(orders, event, key, now)
        if receipt.outcome in (APPLIED, DUPLICATE):
            await record_transition(payments, receipt, key, event.type)
        else:
            await payments.record(receipt)
        bound = log.bind(
            event_id=key, order_number=event.data.order_number, outcome=receipt.outcome
        )
        if receipt.outcome == MISMATCH:
            bound.warning("webhook_mismatch", detail=receipt.detail)
        else:
            bound.info("webhook_received")
        metrics.webhook_received(receipt.outcome)
        return WebhookAck(received=True, event_id=event.id or key, outcome=receipt.outcome)


async def record_transition(
    payments: PaymentStore, receipt: Receipt, key: str, event_type: str
) -> None:
    """Write the `applied` receipt of the event that moved the order, once; else a duplicate.

    Moving the order and writing its receipt are two writes. A crash between them leaves
    the order moved and no receipt; the sender, never answered, delivers again, finds the
    order moved by this very event, and this redelivery writes the missing receipt and
    answers `applied`. Its id is derived from the event, so however many deliveries race,
    an event has one `applied` receipt and an order one transition in its audit trail.
    """
    target = TARGET_STATUS[event_type].value
    applied = replace(receipt, id=applied_receipt_id(key), outcome=APPLIED, detail=target)
    if await payments.record(applied):
        receipt.id, receipt.outcome, receipt.detail = applied.id, APPLIED, target
        return
    receipt.outcome, receipt.detail = DUPLICATE, "event already applied"
    await payments.record(receipt)


def event_key(body: bytes, event_id: str | None) -> str:
    """The dedupe key: the event's id, or the SHA-256 of the raw body when it has none."""
    return event_id if event_id else f"sha256:{hashlib.sha256(body).hexdigest()}"


async def apply(
    orders: OrderStore, event: WebhookEvent, key: str, now: datetime
) -> tuple[str, str | None, str | None]:
    """Decide and perform the outcome; returns (outcome, detail, the matched order's id).

    The order is the event's `orderId` when it names one (payflow's events do), else the
    one order with its `orderNumber`; with API keys on, a number several keys use matches
    none (`unmatched`): only the sender's account could say which (docs/decisions.md)."""
    target = TARGET_STATUS.get(event.type)
    if target is None:
        return IGNORED, f"event type {event.type!r} does not change orders", None
    data = event.data
    try:
        if data.currency not in CURRENCY_EXPONENTS:
            raise MoneyError(f"unsupported currency {data.currency!r}")
        amount_minor = to_minor(parse_amount(data.amount, data.currency), data.currency)
    except MoneyError as exc:
        amount_minor = -1  # matches no order: the read below explains the mismatch
        money_error: str | None = str(exc)
    else:
        money_error = None
    result = await orders.apply_payment(
        data.order_number,
        data.currency,
        amount_minor,
        target,
        key,
        now,
        data.failure_code,
        data.failure_message,
        order_id=data.order_id,
    )
    matched = result.order_id
    if result.applied:
        return APPLIED, f"{target.value}", matched
    order = result.order
    if result.ambiguous:
        return UNMATCHED, "orderNumber used under several API keys: send orderId", None
    if order is None:
        return UNMATCHED, "no order with this orderNumber", None
    if result.applied_event_key == key:
        return DUPLICATE, "event already applied", matched
    if (
        money_error is not None
        or order.currency != data.currency
        or (to_minor(order.amount, order.currency) != amount_minor)
    ):
        return (
            MISMATCH,
            money_error
            or (
                f"event says {data.amount} {data.currency}, "
                f"order is {order.amount} {order.currency}"
            ),
            matched,
        )
    detail = f"order is {order.status.value}; {event.type} would not move it forward"
    return IGNORED, detail, matched
