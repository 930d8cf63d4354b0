"""The shop against a real payflow: what its merchant cares about, end to end."""

from __future__ import annotations

from typing import Any

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
