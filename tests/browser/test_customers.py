"""The customers and wallets view in headless Chromium, against a served payflow."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.browser.conftest import Page
from tests.e2e.conftest import Served

pytestmark = pytest.mark.browser


def test_a_customer_created_through_the_api_shows_its_wallet_and_ledger(
    page: Page, payflow: Served
) -> None:
    created = httpx.post(
        f"{payflow.base_url}/api/customers",
        json={"name": "Jenny Rosen", "balances": {"USD": 100.00}},
        headers={"Idempotency-Key": uuid4().hex},
    )
    assert created.status_code == 201, created.text
    customer = created.json()["id"]
    page.open("/dashboard/customers")
    row = f'#customers tr[data-customer="{customer}"]'
    page.wait_for("the customer in the list", lambda: page.find(row))
    assert page.text(f"{row} .available") == "$100.00"
    assert "Jenny Rosen" in page.text(row)

    page.find(f"{row} button").click()
    page.wait_for("the ledger", lambda: page.find("#ledger-section").is_displayed())
    assert "Jenny Rosen" in page.text("#ledger-title")
    assert page.all("#ledger tbody tr")[0].text.split()[1:3] == ["adjustment", "$100.00"]

    page.fill("#a-amount", "-30.50")
    page.fill("#a-description", "debit from the page")
    page.find("#adjust button").click()
    page.wait_for("the message", lambda: "$69.50" in page.text("#adjust-result"))
    page.wait_for("the list updated", lambda: page.text(f"{row} .available") == "$69.50")
    page.wait_for("two entries", lambda: len(page.all("#ledger tbody tr")) == 2)
    assert page.still_same_document()
    page.screenshot("dashboard-customers.png")

    page.fill("#a-amount", "-1000")
    page.find("#adjust button").click()
    problem = page.wait_for("the problem", lambda: page.find("#problem").is_displayed())
    assert problem
    assert "insufficient-balance" in page.text("#problem")
