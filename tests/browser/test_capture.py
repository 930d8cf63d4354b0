"""Two-step payments on the dashboard: a manual-capture payment from the form stops at
Authorized, then is captured (in part) or canceled from its page, in headless Chromium.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import Page, create_order, new_number, open_trigger_form, row_status
from tests.e2e.conftest import Served

pytestmark = pytest.mark.browser


def shows(page: Page, name: str, value: str) -> None:
    """Waits until the order's field `name` reads `value` (the fields are redrawn live)."""
    page.wait_for(f"{name} {value}", lambda: page.text(f'#fields dd[data-field="{name}"]') == value)


def authorized_order_page(page: Page, payflow: Served, prefix: str) -> str:
    """A manual-capture order made through the API, its page open once it is Authorized."""
    number = new_number(prefix)
    create_order(payflow.base_url, number, paymentMethod="pm_card_visa", captureMethod="manual")
    page.open(f"/dashboard/orders/{number}")
    page.wait_for("the order Authorized", lambda: page.text("#fields .status") == "Authorized")
    return number


def test_a_manual_payment_from_the_form_is_authorized_then_captured_in_part(page: Page) -> None:
    number = open_trigger_form(page, "ORD-MANUAL", "pm_card_visa", amount="80.00")
    Select(page.find("#t-capture")).select_by_visible_text("manual")
    page.find("#trigger button[type=submit]").click()

    page.wait_for(
        "the order Authorized in the list", lambda: row_status(page, number) == "Authorized"
    )
    assert page.still_same_document()

    page.find(f'#orders tr[data-order-number="{number}"] a').click()
    page.wait_for("the capture button enabled", lambda: page.find("#capture-button").is_enabled())
    shows(page, "Capturable", "$80.00")
    assert page.find("#cancel").is_enabled()  # an authorization can be canceled too
    page.screenshot("order-authorized.png")

    page.fill("#capture-amount", "30.00")
    page.find("#capture-button").click()
    page.wait_for("the order Paid", lambda: page.text("#fields .status") == "Paid")
    shows(page, "Captured", "$30.00")
    assert "Captured $30.00" in page.text("#action-result")
    assert not page.find("#capture-button").is_enabled()
    page.wait_for(
        "payment.captured delivered",
        lambda: (
            "payment.captured" in page.text("#order-events")
            and len(page.all('#order-events .delivery[data-state="succeeded"]')) == 2
        ),
    )
    page.screenshot("order-captured.png")


def test_an_authorized_order_canceled_from_its_page(page: Page, payflow: Served) -> None:
    authorized_order_page(page, payflow, "ORD-VOID")
    page.wait_for("the cancel button enabled", lambda: page.find("#cancel").is_enabled())
    page.find("#cancel").click()
    page.wait_for("the order Canceled", lambda: page.text("#fields .status") == "Canceled")
    shows(page, "Cancellation reason", "requested_by_customer")
    page.wait_for(
        "the reason on the timeline", lambda: "requested_by_customer" in page.text("#timeline")
    )
    assert not page.find("#capture-button").is_enabled()


def test_capturing_too_much_or_twice_is_shown_as_a_message(page: Page, payflow: Served) -> None:
    number = authorized_order_page(page, payflow, "ORD-OVER")
    page.wait_for("the capture button enabled", lambda: page.find("#capture-button").is_enabled())
    page.fill("#capture-amount", "99.00")  # the order is 25.00
    page.find("#capture-button").click()
    page.wait_for("the problem", lambda: page.find("#problem").is_displayed())
    text = page.text("#problem")
    assert "(400 validation-error)" in text
    assert "more than the 25.00 USD capturable" in text
    shows(page, "Status", "Authorized")

    page.fill("#capture-amount", "25.00")
    page.find("#capture-button").click()
    page.wait_for("the order Paid", lambda: page.text("#fields .status") == "Paid")
    # A second capture, as a stale tab would send it: the 409 is shown as a message.
    page.driver.execute_script("document.getElementById('capture-button').disabled = false;")
    page.find("#capture-button").click()
    page.wait_for("the 409 problem", lambda: "(409 order-not-capturable)" in page.text("#problem"))
    assert f"Order '{number}' is Paid" in page.text("#problem")
