"""With API keys on, the dashboard asks for one and shows that key's orders only, live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Page, create_order, serve, stop_serving
from tests.e2e.conftest import Served
from tests.waiting import wait_for_status_sync

pytestmark = pytest.mark.browser

KEY_A, KEY_B = "sk_test_a", "sk_test_b"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, chrome: WebDriver) -> Iterator[Served]:
    keys = f'["{KEY_A}","{KEY_B}"]'
    served = serve(tmp_path_factory.mktemp("payflow-keys"), PAYFLOW_AUTH__API_KEYS=keys)
    yield served
    stop_serving(chrome, served)


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

    create_order(keyed.base_url, "ORD-KEY-A1", KEY_A)
    create_order(keyed.base_url, "ORD-KEY-B1", KEY_B)
    page.fill("#api-key", KEY_A)
    page.find("#key-form button[type=submit]").click()
    page.wait_for("A's order", lambda: page.all('#orders tr[data-order-number="ORD-KEY-A1"]'))
    page.wait_for("the stream", lambda: page.text("#live") == "Live")
    page.driver.execute_script("window.__sameDocument = true;")

    create_order(keyed.base_url, "ORD-KEY-B2", KEY_B)
    wait_for_status_sync(
        keyed.base_url, "ORD-KEY-B2", "Paid", headers={"Authorization": f"Bearer {KEY_B}"}
    )
    create_order(keyed.base_url, "ORD-KEY-A2", KEY_A)
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
