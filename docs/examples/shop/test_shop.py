"""The shop against a real payflow: what its merchant cares about, end to end."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import RunningShop, until


def test_a_paid_checkout_marks_the_order_paid_and_ships_once(
    payflow: Any, shop: RunningShop
) -> None:
    order = shop.checkout("25.00")
    assert order["status"] == "awaiting_payment"
    payflow.wait_for(order["id"], "Paid")
    settled = shop.settled(order["id"], "paid")
    assert settled["fulfilled"] == 1
    assert [w["type"] for w in payflow.received] == ["payment.succeeded"]


def test_a_declined_card_marks_the_order_declined_and_ships_nothing(
    payflow: Any, shop: RunningShop
) -> None:
    order = shop.checkout("25.00", card="pm_card_chargeDeclined")
    payflow.wait_for(order["id"], "Failed")
    settled = shop.settled(order["id"], "declined")
    assert (settled["fulfilled"], settled["declineCode"]) == (0, "generic_decline")


def test_a_webhook_delivered_twice_leaves_the_order_paid_once(
    payflow: Any, shop: RunningShop
) -> None:
    order = shop.checkout("40.00")
    shop.settled(order["id"], "paid")
    deliveries = f"/api/webhook-endpoints/{shop.endpoint_id}/deliveries"

    def delivered() -> list[dict[str, Any]]:  # recorded once every endpoint has answered
        found: list[dict[str, Any]] = payflow.client.get(deliveries).json()
        return [d for d in found if d["state"] == "succeeded"]

    [delivery] = until(delivered, "the delivery to the shop to be recorded")
    again = payflow.client.post(
        f"/api/deliveries/{delivery['id']}/redeliver",
        headers={"Idempotency-Key": f"again-{delivery['id']}"},
    )
    assert again.status_code == 202, again.text

    def answered_twice() -> list[dict[str, Any]] | None:
        log: list[dict[str, Any]] = payflow.client.get(f"/api/deliveries/{delivery['id']}").json()[
            "log"
        ]
        return log if len(log) == 2 else None

    first, second = until(answered_twice, "the second delivery")
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert '"outcome":"paid"' in first["response"]
    assert '"outcome":"duplicate"' in second["response"]
    assert shop.order(order["id"])["fulfilled"] == 1


def test_a_forged_webhook_is_refused(payflow: Any, shop: RunningShop) -> None:
    order = shop.checkout("10.00")
    shop.settled(order["id"], "paid")
    forged = shop.http.post(
        "/webhooks/payflow",
        content=b'{"id":"evt_forged","type":"payment.failed","data":{}}',
        headers={"X-Signature": "t=1,v1=00"},
    )
    assert forged.status_code == 400
    assert shop.order(order["id"])["status"] == "paid"


def test_a_checkout_retried_after_a_lost_answer_pays_once(payflow: Any, shop: RunningShop) -> None:
    # payflow creates the order, then drops the connection before answering: the shop
    # cannot tell whether it was charged, so it retries with the same Idempotency-Key.
    shop.faults.append("after-commit:reset")
    order = shop.checkout("30.00")
    payflow.wait_for(order["id"], "Paid")
    assert shop.settled(order["id"], "paid")["fulfilled"] == 1

    sent = [r for r in shop.to_payflow if isinstance(r, httpx.Request)]
    answers = [r for r in shop.to_payflow if isinstance(r, httpx.Response)]
    assert [r.headers.get("Payflow-Fault") for r in sent] == ["after-commit:reset", None]
    assert len({r.headers["Idempotency-Key"] for r in sent}) == 1
    [answer] = answers  # the first try got no answer at all
    assert (answer.status_code, answer.headers["Idempotent-Replayed"]) == (201, "true")

    listed = payflow.client.get("/api/orders", params={"limit": 500}).json()
    assert [o["orderNumber"] for o in listed].count(order["id"]) == 1
    events = payflow.client.get("/api/events", params={"orderNumber": order["id"]}).json()
    assert [e["type"] for e in events] == ["payment.succeeded"]
    assert [w["type"] for w in payflow.received] == ["payment.succeeded"]


def test_an_authorization_not_shipped_within_seven_days_cancels_the_order(
    payflow: Any, shop: RunningShop
) -> None:
    order = shop.checkout("80.00", capture_on_shipment=True)
    payflow.wait_for(order["id"], "Authorized")
    assert shop.settled(order["id"], "authorized")["fulfilled"] == 0

    payflow.advance(7 * 24 * 3600 + 60)  # a week passes and nothing ships
    assert payflow.wait_for(order["id"], "Canceled")["cancellationReason"] == "expired"
    canceled = shop.settled(order["id"], "canceled")
    assert (canceled["cancellationReason"], canceled["fulfilled"]) == ("expired", 0)
    assert shop.http.post(f"/orders/{order['id']}/ship").status_code == 409


def test_shipping_an_authorized_order_captures_it_and_ships_once(
    payflow: Any, shop: RunningShop
) -> None:
    order = shop.checkout("80.00", capture_on_shipment=True)
    shop.settled(order["id"], "authorized")
    shipped = shop.http.post(f"/orders/{order['id']}/ship")
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["fulfilled"]) == ("paid", 1)
    assert str(payflow.wait_for(order["id"], "Paid")["amountCaptured"]) == "80.00"
    # The capture answers Paid at once; its webhook is announced by the worker just after.
    until(lambda: len(payflow.received) == 2, "payment.captured at the sink")
    assert [w["type"] for w in payflow.received] == ["payment.authorized", "payment.captured"]
    assert shop.order(order["id"])["fulfilled"] == 1
