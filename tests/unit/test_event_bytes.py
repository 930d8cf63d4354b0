"""The bytes of each kind of event, pinned: receivers verify signatures over them and the
store keeps the first bytes of an event id, so a change of field order or number format
would make a re-run's event differ from the one already sent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from payflow.codec import encode
from payflow.domain.events import order_canceled_event, payment_event, refund_succeeded_event
from payflow.domain.orders import Order, OrderStatus
from payflow.domain.payment_methods import outcome_for
from payflow.domain.refunds import Refund

CREATED = datetime(2036, 11, 22, 20, 47, 1, 123000, tzinfo=UTC)
SENT = datetime(2036, 11, 22, 20, 47, 3, 456000, tzinfo=UTC)


def an_order(payment_method: str = "pm_card_visa", **changes: object) -> Order:
    fields: dict[str, object] = {
        "id": "ord_0123456789abcdef01234567",
        "order_number": "ORD-67890",
        "amount": Decimal("149.99"),
        "currency": "USD",
        "status": OrderStatus.PENDING,
        "payment_method": payment_method,
        "created_at": CREATED,
        "updated_at": CREATED,
        **changes,
    }
    return Order(**fields)  # type: ignore[arg-type]


def a_refund(reason: str | None) -> Refund:
    return Refund(
        id="re_0123456789abcdef01234567",
        order_id="ord_0123456789abcdef01234567",
        order_number="ORD-67890",
        amount=Decimal("50.00"),
        currency="USD",
        created_at=CREATED,
        reason=reason,
    )


def test_a_payment_succeeded_event_keeps_its_bytes() -> None:
    event = payment_event(an_order(), outcome_for("pm_card_visa"), SENT)
    assert encode(event) == (
        b'{"id":"evt_8250ec7f3939ffd183959686","type":"payment.succeeded",'
        b'"createdAt":"2036-11-22T20:47:03.456Z","data":{"orderId":"ord_0123456789abcdef01234567",'
        b'"orderNumber":"ORD-67890","amount":149.99,"currency":"USD",'
        b'"paymentMethod":"pm_card_visa","status":"Paid"}}'
    )


def test_a_payment_failed_event_keeps_its_bytes() -> None:
    method = "pm_card_chargeDeclinedInsufficientFunds"
    event = payment_event(an_order(method), outcome_for(method), SENT)
    assert encode(event) == (
        b'{"id":"evt_2dab7fa5b3cd9c1f67558400","type":"payment.failed",'
        b'"createdAt":"2036-11-22T20:47:03.456Z","data":{"orderId":"ord_0123456789abcdef01234567",'
        b'"orderNumber":"ORD-67890","amount":149.99,"currency":"USD",'
        b'"paymentMethod":"pm_card_chargeDeclinedInsufficientFunds","status":"Failed",'
        b'"failureCode":"insufficient_funds","failureMessage":"Your card has insufficient funds."}}'
    )


def test_an_order_canceled_event_keeps_its_bytes() -> None:
    order = an_order(status=OrderStatus.CANCELED, canceled_at=CREATED)
    assert encode(order_canceled_event(order, SENT)) == (
        b'{"id":"evt_d1363e3a06aacd647622f675","type":"order.canceled",'
        b'"createdAt":"2036-11-22T20:47:03.456Z","data":{"orderId":"ord_0123456789abcdef01234567",'
        b'"orderNumber":"ORD-67890","amount":149.99,"currency":"USD",'
        b'"paymentMethod":"pm_card_visa","status":"Canceled",'
        b'"canceledAt":"2036-11-22T20:47:01.123Z"}}'
    )


def test_an_order_canceled_event_without_a_cancel_time_says_null() -> None:
    event = order_canceled_event(an_order(status=OrderStatus.CANCELED), SENT)
    assert encode(event).endswith(b'"status":"Canceled","canceledAt":null}}')


def test_a_refund_succeeded_event_keeps_its_bytes() -> None:
    refund = a_refund(reason="requested_by_customer")
    assert encode(refund_succeeded_event(refund, SENT)) == (
        b'{"id":"evt_963eca095eda2f96dba5f043","type":"refund.succeeded",'
        b'"createdAt":"2036-11-22T20:47:03.456Z","data":{"refundId":"re_0123456789abcdef01234567",'
        b'"orderId":"ord_0123456789abcdef01234567","orderNumber":"ORD-67890","amount":50.00,'
        b'"currency":"USD","status":"succeeded","reason":"requested_by_customer"}}'
    )


def test_a_refund_event_without_a_reason_says_null() -> None:
    assert encode(refund_succeeded_event(a_refund(reason=None), SENT)).endswith(
        b'"amount":50.00,"currency":"USD","status":"succeeded","reason":null}}'
    )
