"""The dashboard open on one payflow process sees the orders another process creates (and
either of them pays): its change stream reads the shared database, not process memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from payflow.database_process import embedded_server
from tests.browser.conftest import Page, create_order, new_number, row_status, serve, stop_serving
from tests.e2e.conftest import Served

pytestmark = pytest.mark.browser


def test_orders_from_another_process_appear_and_turn_paid(
    chrome: WebDriver, tmp_path: Path
) -> None:
    with embedded_server(tmp_path / "db") as server:
        shared = {"PAYFLOW_MONGO__URI": server.uri, "PAYFLOW_MONGO__DATABASE": "two"}
        both: list[Served] = []
        try:
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                both.append(serve(tmp_path / name, **shared))
            watching, other = both
            page = Page(chrome, watching.base_url)
            page.open("/dashboard")
            page.wait_for("the stream", lambda: page.text("#live") == "Live")

            numbers = [new_number("ORD-OTHER") for _ in range(2)]
            for number in numbers:
                create_order(other.base_url, number, processingDelayMs=500)
            page.wait_for(
                "both orders Paid on the page served by the other process",
                lambda: all(row_status(page, n) == "Paid" for n in numbers),
            )
            assert page.still_same_document()
        finally:
            stop_serving(chrome, *both)
