"""What a project that installed payflow writes: only the `payflow` fixture, nothing else.

It runs here against the checkout's editable install, and `scripts/check-installed` copies
it into an empty directory outside the checkout and runs it in a fresh virtual environment
that has only the built wheel and pytest: so it imports nothing from payflow or tests/.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime
from typing import Any


def test_a_paid_order_sends_its_webhook_to_the_sink(payflow: Any) -> None:
    order = payflow.create_order(amount="149.99", currency="USD")
    paid = payflow.wait_for(order["orderNumber"], "Paid")
    assert str(paid["amount"]) == "149.99"
    [webhook] = payflow.received
    assert webhook["type"] == "payment.succeeded"
    assert webhook["data"]["orderNumber"] == order["orderNumber"]


def test_a_decline_ends_failed(payflow: Any) -> None:
    order = payflow.create_order(payment_method="pm_card_chargeDeclinedInsufficientFunds")
    failed = payflow.wait_for(order["orderNumber"], "Failed")
    assert failed["failureCode"] == "insufficient_funds"
    assert [w.type for w in payflow.received] == ["payment.failed"]


def test_advance_moves_the_clock_and_a_failed_delivery_is_retried(payflow: Any) -> None:
    before = payflow.client.get("/api/test-clock").json()
    assert before["mode"] == "test"
    unreachable = f"http://127.0.0.1:{_closed_port()}/webhooks"
    endpoint = payflow.client.post(
        "/api/webhook-endpoints",
        json={"url": unreachable},
        headers={"Idempotency-Key": f"down-{time.monotonic_ns()}"},
    ).json()
    order = payflow.create_order()
    payflow.wait_for(order["orderNumber"], "Paid")
    # Refused, so retried later on the clock. Deliveries are recorded once every endpoint
    # has answered, a moment after the sink had its webhook.
    _until(lambda: _attempts(payflow, endpoint["id"]) == 1, "the first attempt")

    now = payflow.advance(600)  # past the first retry (within a minute, on the fixture)
    assert (now - datetime.fromisoformat(before["now"])).total_seconds() == 600
    _until(lambda: _attempts(payflow, endpoint["id"]) == 2, "the retry")
    assert [w["type"] for w in payflow.received] == ["payment.succeeded"]
    payflow.client.delete(f"/api/webhook-endpoints/{endpoint['id']}")


def test_an_authorization_not_captured_expires_after_seven_days(payflow: Any) -> None:
    order = payflow.create_order(amount="80.00", capture_method="manual")
    authorized = payflow.wait_for(order["orderNumber"], "Authorized")
    assert str(authorized["amountCapturable"]) == "80.00"

    payflow.advance(7 * 24 * 3600 + 60)  # past [payments] authorization_hours (168 h)
    canceled = payflow.wait_for(order["orderNumber"], "Canceled")
    assert canceled["cancellationReason"] == "expired"
    # The worker cancels the order first, then announces it: wait for the announcement.
    _until(lambda: len(payflow.received) == 2, "order.canceled at the sink")
    assert [(w["type"], w["data"]["orderNumber"]) for w in payflow.received] == [
        ("payment.authorized", order["orderNumber"]),
        ("order.canceled", order["orderNumber"]),
    ]


def _attempts(payflow: Any, endpoint_id: str) -> int:
    deliveries = payflow.client.get(f"/api/webhook-endpoints/{endpoint_id}/deliveries").json()
    return sum(len(d["log"]) for d in deliveries)


def _until(check: Any, what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
