"""The dashboard in headless Chromium, used as a person would, against a served payflow.

Each test also saves a screenshot to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import (
    Page,
    Refusing,
    add_endpoint,
    create_order,
    new_number,
    open_trigger_form,
    row_status,
)
from tests.e2e.conftest import Served

pytestmark = pytest.mark.browser


def test_a_payment_from_the_form_turns_paid_without_a_reload(page: Page) -> None:
    number = open_trigger_form(page, "ORD-FORM", "pm_card_visa", amount="149.99")
    page.fill("#t-delay", "1500")
    page.find("#t-delay").send_keys(Keys.ENTER)  # the keyboard is enough

    assert "Pending" in page.wait_for("the created message", lambda: page.text("#trigger-result"))
    page.wait_for("the order Paid in the list", lambda: row_status(page, number) == "Paid")
    row = page.find(f'#orders tr[data-order-number="{number}"]')
    assert "$149.99" in row.text
    assert page.still_same_document()
    page.screenshot("dashboard-orders.png")


def test_orders_created_elsewhere_appear_and_turn_paid_on_the_open_page(
    page: Page, payflow: Served
) -> None:
    page.open("/dashboard")
    page.wait_for("the stream", lambda: page.text("#live") == "Live")
    numbers = [new_number("ORD-API") for _ in range(3)]
    for number in numbers:
        create_order(payflow.base_url, number, processingDelayMs=800)
    page.wait_for("every order Paid", lambda: all(row_status(page, n) == "Paid" for n in numbers))
    assert page.still_same_document()


def test_a_declined_card_shows_its_failure_code(page: Page) -> None:
    # Stripe's insufficient funds card number
    number = open_trigger_form(page, "ORD-DECLINE", "4000000000009995")
    page.find("#trigger button[type=submit]").click()

    page.wait_for("the order Failed", lambda: row_status(page, number) == "Failed")
    assert "insufficient_funds" in page.find(f'#orders tr[data-order-number="{number}"]').text

    page.find(f'#orders tr[data-order-number="{number}"] a').click()
    page.wait_for("the order page", lambda: "insufficient_funds" in page.text("#fields"))
    page.wait_for(
        "its payment.failed event", lambda: "payment.failed" in page.text("#order-events")
    )
    page.screenshot("order-declined.png")


def test_a_refusing_endpoint_fails_then_a_redelivery_succeeds(
    page: Page, payflow: Served, refusing: Refusing
) -> None:
    endpoint = add_endpoint(page, refusing.url, "payment.succeeded", description="shop backend")
    assert page.find("#secret .secret-value").text.startswith("whsec_")
    endpoint_id = endpoint.get_attribute("data-endpoint")

    number = new_number("ORD-HOOK")
    create_order(payflow.base_url, number)
    page.find(f'.endpoint[data-endpoint="{endpoint_id}"] button').click()  # Deliveries

    def dead_delivery() -> Any:
        blocks = page.all('#deliveries .delivery[data-state="dead"]')
        return blocks[0] if blocks else None

    dead = page.wait_for("the delivery dead after its attempts", dead_delivery)
    attempt_rows = dead.find_elements("css selector", "tbody tr")
    assert len(attempt_rows) == 3
    texts = [row.text for row in attempt_rows]
    assert all("503" in text and "down for maintenance" in text for text in texts), texts
    page.screenshot("endpoint-deliveries-failing.png")

    refusing.recovered.set()
    dead.find_element("css selector", "button").click()  # Redeliver
    succeeded = page.wait_for(
        "the redelivery succeeded",
        lambda: page.find('#deliveries .delivery[data-state="succeeded"]'),
    )
    last_attempt = succeeded.find_elements("css selector", "tbody tr")[-1]
    assert "200" in last_attempt.text
    assert len(refusing.received) == 1
    assert page.still_same_document()
    page.screenshot("endpoint-deliveries-redelivered.png")

    page.open(f"/dashboard/orders/{number}")
    page.wait_for(
        "both deliveries on the order page",
        lambda: len(page.all("#order-events .delivery")) == 2,
    )
    page.screenshot("order-deliveries.png")


def test_cancel_from_the_order_page(page: Page, payflow: Served) -> None:
    number = new_number("ORD-CANCEL")
    create_order(payflow.base_url, number, processingDelayMs=600_000)
    page.open(f"/dashboard/orders/{number}")
    cancel = page.wait_for("the cancel button enabled", lambda: page.find("#cancel").is_enabled())
    assert cancel
    page.find("#cancel").click()
    page.wait_for("the order Canceled", lambda: page.text("#fields .status") == "Canceled")
    page.wait_for("the message", lambda: "is Canceled" in page.text("#action-result"))
    assert not page.find("#cancel").is_enabled()
    page.wait_for(
        "its order.canceled event delivered",
        lambda: (
            "order.canceled" in page.text("#order-events")
            and page.all('#order-events .delivery[data-state="succeeded"]')
        ),
    )
    assert "canceled" in page.text("#timeline")
    page.screenshot("order-canceled.png")


def test_a_partial_refund_from_the_order_page(page: Page, payflow: Served) -> None:
    number = new_number("ORD-REFUND")
    create_order(payflow.base_url, number)
    page.open(f"/dashboard/orders/{number}")
    page.wait_for("the order Paid", lambda: page.text("#fields .status") == "Paid")
    page.wait_for("the refund button enabled", lambda: page.find("#refund-button").is_enabled())
    page.fill("#refund-amount", "10.00")
    page.find("#refund-button").click()
    page.wait_for("PartiallyRefunded", lambda: page.text("#fields .status") == "PartiallyRefunded")
    assert "Refunded $10.00." in page.text("#action-result")
    page.wait_for("refund.succeeded sent", lambda: "refund.succeeded" in page.text("#order-events"))

    page.fill("#refund-amount", "99.00")
    page.find("#refund-button").click()
    page.wait_for("the problem", lambda: page.find("#problem").is_displayed())
    assert "refund-exceeds-remaining" in page.text("#problem")


def test_an_api_error_is_shown_as_a_message(page: Page) -> None:
    page.open("/dashboard")
    page.wait_for("the stream", lambda: page.text("#live") == "Live")
    page.fill("#t-number", "not a valid number")
    page.fill("#t-amount", "12.345")
    page.find("#trigger button[type=submit]").click()
    problem = page.wait_for("the problem", lambda: page.find("#problem").is_displayed())
    assert problem
    text = page.text("#problem")
    assert "Your request is not valid (400 validation-error)" in text
    assert "orderNumber" in text
    assert "null" not in text  # nothing missing is written out as a word
    page.screenshot("dashboard-error.png")

    page.open("/dashboard/orders/NO-SUCH-ORDER")
    page.wait_for("the not-found message", lambda: page.find("#problem").is_displayed())
    assert "Not found (404 not-found) No order with orderNumber 'NO-SUCH-ORDER'." in page.text(
        "#problem"
    )
    assert page.text("#live") == "Not live"


def test_the_layout_reads_on_a_phone(page: Page, payflow: Served) -> None:
    create_order(payflow.base_url, new_number("ORD-PHONE"))
    page.open("/dashboard")
    page.wait_for("the list", lambda: page.all("#orders tbody tr"))
    page.driver.set_window_size(390, 844)
    width = page.driver.execute_script("return document.documentElement.scrollWidth;")
    assert width <= 390  # nothing wider than the screen: tables scroll inside their card
    page.screenshot("dashboard-phone.png", width=390, height=844)


def test_swagger_ui_renders_offline_and_lists_the_operations(page: Page) -> None:
    page.open("/swagger/index.html")
    page.wait_for("the operations", lambda: len(page.all(".opblock")) > 10)
    summaries = " ".join(op.text for op in page.all(".opblock-summary"))
    assert "/api/orders" in summaries
    assert "/api/webhook-endpoints" in summaries
    loaded = page.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert loaded
    assert all(url.startswith(page.base_url) for url in loaded), loaded
    page.screenshot("swagger.png")


def test_the_events_page_lists_events_and_links_their_orders(page: Page, payflow: Served) -> None:
    number = new_number("ORD-EVENTS")
    create_order(payflow.base_url, number)
    page.open("/dashboard/events")
    link = page.wait_for(
        "the order's payment.succeeded event",
        lambda: next(
            row.find_element("css selector", "a")
            for row in page.all("#events tbody tr")
            if number in row.text and "payment.succeeded" in row.text
        ),
    )
    assert page.still_same_document()  # it arrived while the page was open, or at load
    page.screenshot("events.png")
    link.click()
    page.wait_for("the order page", lambda: page.text("#order-number") == number)
