"""With API keys on, the dashboard asks for one and shows that key's orders only, live."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import SERVED_ENV, Page
from tests.served import Served, free_port, start, stop
from tests.waiting import wait_for_status_sync

pytestmark = pytest.mark.browser

KEY_A, KEY_B = "sk_test_a", "sk_test_b"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, chrome: WebDriver) -> Iterator[Served]:
    env = {**SERVED_ENV, "PAYFLOW_AUTH__API_KEYS": f'["{KEY_A}","{KEY_B}"]'}
    served = start(tmp_path_factory.mktemp("payflow-keys"), free_port(), env)
    yield served
    chrome.get("about:blank")
    if served.process.poll() is None:
        stop(served)


def create(served: Served, key: str, number: str) -> None:
    response = httpx.post(
        f"{served.base_url}/api/orders",
        json={"orderNumber": number, "amount": 10},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid4().hex},
    )
    assert response.status_code == 201, response.text


def test_the_page_asks_for_a_key_and_shows_only_that_keys_orders(
    chrome: WebDriver, keyed: Served
) -> None:
    page = Page(chrome, keyed.base_url)
    page.open("/dashboard")
    chrome.execute_script("sessionStorage.clear();")
    page.open("/dashboard")
    page.wait_for("the key form", lambda: page.find("#key-form").is_displayed())
    assert page.text("#live") == "Waiting for an API key"
    page.screenshot("dashboard-api-key.png")

    create(keyed, KEY_A, "ORD-KEY-A1")
    create(keyed, KEY_B, "ORD-KEY-B1")
    page.fill("#api-key", KEY_A)
    page.find("#key-form button[type=submit]").click()
    page.wait_for("A's order", lambda: page.all('#orders tr[data-order-number="ORD-KEY-A1"]'))
    page.wait_for("the stream", lambda: page.text("#live") == "Live")
    page.driver.execute_script("window.__sameDocument = true;")

    create(keyed, KEY_B, "ORD-KEY-B2")
    wait_for_status_sync(
        keyed.base_url, "ORD-KEY-B2", "Paid", headers={"Authorization": f"Bearer {KEY_B}"}
    )
    create(keyed, KEY_A, "ORD-KEY-A2")
    page.wait_for(
        "A's new order Paid on the open page",
        lambda: (
            page.find('#orders tr[data-order-number="ORD-KEY-A2"]').get_attribute("data-status")
            == "Paid"
        ),
    )
    assert page.still_same_document()
    shown = {row.get_attribute("data-order-number") for row in page.all("#orders tbody tr")}
    assert shown == {"ORD-KEY-A1", "ORD-KEY-A2"}
