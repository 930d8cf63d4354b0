"""Endpoint health on the dashboard: circuit, disabling and Enable, in headless Chromium.

payflow runs here on the test clock with a breaker that opens at the first failure, so a
refusing endpoint's circuit opens on its first attempt, and one advance of the clock past
`[webhooks] disable_after_hours` (the default 120 h) lets the next failed probe disable
it: days of failures in a moment of real time, with no sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import (
    Page,
    Refusing,
    add_endpoint,
    create_order,
    new_number,
    serve,
    stop_serving,
)
from tests.e2e.conftest import Served

pytestmark = pytest.mark.browser

DISABLE_AFTER_HOURS = 120  # payflow's default, as a user gets it
HEALTH_ENV = {
    "PAYFLOW_CLOCK__MODE": "test",
    "PAYFLOW_PROCESSING__DELAY_SECONDS": "0",  # the clock stands still: pay at once
    "PAYFLOW_PROCESSING__POLL_INTERVAL_SECONDS": "0.2",  # recovery rounds come quickly
    "PAYFLOW_WEBHOOKS__BREAKER_FAILURES": "1",
    "PAYFLOW_WEBHOOKS__BREAKER_COOLDOWN_SECONDS": "30",
    "PAYFLOW_WEBHOOKS__DISABLE_AFTER_HOURS": str(DISABLE_AFTER_HOURS),
}


@pytest.fixture(scope="module")
def payflow(tmp_path_factory: pytest.TempPathFactory, chrome: WebDriver) -> Iterator[Served]:
    served = serve(tmp_path_factory.mktemp("payflow-health"), **HEALTH_ENV)
    yield served
    stop_serving(chrome, served)


def endpoint_item(endpoint_id: str) -> str:
    return f'#endpoints .endpoint[data-endpoint="{endpoint_id}"]'


def shown(page: Page, endpoint_id: str, attribute: str) -> str:
    return page.find(endpoint_item(endpoint_id)).get_attribute(attribute) or ""


def advance(payflow: Served, seconds: float) -> None:
    response = httpx.post(f"{payflow.base_url}/api/test-clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text


def test_a_refusing_endpoint_opens_its_circuit_is_disabled_and_enabled_again(
    page: Page, payflow: Served, refusing: Refusing
) -> None:
    item = add_endpoint(page, refusing.url, "payment.succeeded")
    endpoint_id = item.get_attribute("data-endpoint") or ""
    css = endpoint_item(endpoint_id)
    assert shown(page, endpoint_id, "data-status") == "enabled"
    assert shown(page, endpoint_id, "data-circuit") == "closed"
    assert page.text(f'{css} dd[data-field="Failing since"]') == "not failing"
    assert not page.all(f"{css} button.enable")

    # The first attempt is refused: the circuit opens, and the page shows it by itself.
    create_order(payflow.base_url, new_number("ORD-HEALTH"))
    page.wait_for("the circuit open", lambda: shown(page, endpoint_id, "data-circuit") == "open")
    assert page.find(f'{css} dd[data-field="Failing since"] time').get_attribute("datetime")
    assert page.find(f"{css} .circuit-open").get_attribute("title")  # what "open" means
    assert not page.all(f"{css} button.enable")  # open is not disabled: nothing to press
    assert page.still_same_document()
    page.screenshot("endpoint-circuit-open.png")

    # Days without a success: the probe after the cool-down fails and disables it.
    advance(payflow, (DISABLE_AFTER_HOURS + 1) * 3600)
    page.wait_for(
        "the endpoint disabled", lambda: shown(page, endpoint_id, "data-status") == "disabled"
    )
    enable = page.wait_for("the Enable button", lambda: page.find(f"{css} button.enable"))
    assert enable.get_attribute("aria-label") == f"Enable {refusing.url}"
    assert page.still_same_document()
    page.screenshot("endpoint-disabled.png")

    # The receiver is fixed; Enable brings the endpoint back and its backlog drains.
    refusing.recovered.set()
    enable.click()
    page.wait_for("the message", lambda: "is enabled again" in page.text("#endpoint-result"))
    page.wait_for(
        "the endpoint enabled", lambda: shown(page, endpoint_id, "data-status") == "enabled"
    )
    page.wait_for(
        "the circuit closed and no longer failing",
        lambda: (
            shown(page, endpoint_id, "data-circuit") == "closed"
            and page.text(f'{css} dd[data-field="Failing since"]') == "not failing"
        ),
    )
    assert not page.all(f"{css} button.enable")
    page.wait_for("the parked payment.succeeded delivered", lambda: len(refusing.received) == 1)
    assert b"payment.succeeded" in refusing.received[0]
    assert page.still_same_document()


def test_chaos_settings_from_the_form_are_shown_and_bad_ones_explained(
    page: Page, payflow: Served
) -> None:
    url = f"http://127.0.0.1:9/chaos-{uuid4().hex[:8]}"  # never sent to: no event subscribed
    item = add_endpoint(page, url, "refund.succeeded", duplicate_rate="0.25", reorder_window="2000")
    endpoint_id = item.get_attribute("data-endpoint")
    chaos = item.find_element("css selector", 'dd[data-field="Chaos"]').text
    assert chaos == "duplicates 25% · reorder window 2000 ms"
    assert not page.find("#problem").is_displayed()

    page.fill("#e-url", f"{url}/other")
    page.fill("#e-duplicate-rate", "1.5")
    page.find("#new-endpoint button[type=submit]").click()
    page.wait_for("the problem", lambda: page.find("#problem").is_displayed())
    assert "duplicateRate" in page.text("#problem")
    assert httpx.delete(f"{payflow.base_url}/api/webhook-endpoints/{endpoint_id}").is_success
