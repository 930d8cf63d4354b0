"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by selenium.

The browser is the system one, never downloaded: selenium is pointed at
/usr/bin/chromedriver and /usr/bin/chromium, and its own manager is kept offline. Without
them the browser tests are skipped with the reason, except in CI (`CI=true`), where a
missing browser is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from payflow.database_process import free_port
from tests.e2e.conftest import ROOT, Served, start, stop
from tests.waiting import eventually_sync

CHROMIUM = os.environ.get("PAYFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PAYFLOW_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "docs" / "screenshots"
DEADLINE_SECONDS = 30.0  # an upper bound for a condition, never a timing assertion
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Quick outcomes and few, fast retries, so a refusing endpoint's delivery goes dead soon.
SERVED_ENV = {
    "PAYFLOW_PROCESSING__DELAY_SECONDS": "0.5",
    "PAYFLOW_PROCESSING__MAX_ATTEMPTS": "3",
    "PAYFLOW_PROCESSING__RETRY_BASE_SECONDS": "0.3",
    "PAYFLOW_PROCESSING__RETRY_MAX_SECONDS": "1",
}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return None
    return f"{' and '.join(missing)} not found (apt-get install -y chromium chromium-driver)"


@pytest.fixture(scope="session")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    os.environ["SE_OFFLINE"] = "true"  # selenium's manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(DEADLINE_SECONDS)
    yield driver
    driver.quit()


def serve(directory: Path, **env: str) -> Served:
    """A payflow process (tests/e2e's helpers) with quick outcomes and retries, plus `env`."""
    return start(directory, free_port(), {**SERVED_ENV, **env})


def stop_serving(chrome: WebDriver, *served: Served) -> None:
    chrome.get("about:blank")  # close the page's change stream before payflow stops
    for instance in served:
        if instance.process.poll() is None:
            stop(instance)


@pytest.fixture(scope="module")
def payflow(tmp_path_factory: pytest.TempPathFactory, chrome: WebDriver) -> Iterator[Served]:
    served = serve(tmp_path_factory.mktemp("payflow-browser"))
    yield served
    stop_serving(chrome, served)


class Page:
    """What a person does on a page: open it, type, press, read, and wait for a change."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        # A marker that only survives as long as the page is not reloaded.
        self.driver.execute_script("window.__sameDocument = true;")

    def still_same_document(self) -> bool:
        return bool(self.driver.execute_script("return window.__sameDocument === true;"))

    def find(self, css: str) -> WebElement:
        return self.driver.find_element("css selector", css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements("css selector", css)

    def fill(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            try:
                return check()
            except Exception:  # an element not there yet, or replaced while read
                return None

        return eventually_sync(attempt, what, within=DEADLINE_SECONDS, every=0.1)

    def text(self, css: str) -> str:
        return self.find(css).text

    def screenshot(self, name: str, width: int = 1280, height: int = 900) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.driver.set_window_size(width, height)
        full = self.driver.execute_script("return document.documentElement.scrollHeight;")
        self.driver.set_window_size(width, max(height, min(int(full) + 120, 2400)))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 900)
        return path


def create_order(
    base_url: str, order_number: str, key: str | None = None, **fields: Any
) -> dict[str, Any]:
    """An order created through the API, as another client would (with `key`, as it)."""
    body = {"orderNumber": order_number, "amount": 25.00, **fields}
    headers = {"Idempotency-Key": uuid4().hex}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = httpx.post(f"{base_url}/api/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def row_status(page: Page, order_number: str) -> str:
    return (
        page.find(f'#orders tr[data-order-number="{order_number}"]').get_attribute("data-status")
        or ""
    )


def new_number(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:8].upper()}"


def open_trigger_form(page: Page, prefix: str, method: str, amount: str | None = None) -> str:
    """Opens the orders page once live and fills the trigger form with a fresh order number,
    `method` and `amount` (None: the form's default); returns the number, not yet sent."""
    page.open("/dashboard")
    page.wait_for("the stream", lambda: page.text("#live") == "Live")
    number = new_number(prefix)
    page.fill("#t-number", number)
    if amount is not None:
        page.fill("#t-amount", amount)
    page.fill("#t-method", method)
    return number


def add_endpoint(page: Page, url: str, events: str, **fields: str) -> WebElement:
    """Registers `url` through the endpoints page's form (`fields`: more inputs by id, as
    `description="…"` for `#e-description`) and returns its entry once listed."""
    page.open("/dashboard/endpoints")
    page.fill("#e-url", url)
    page.fill("#e-events", events)
    for name, text in fields.items():
        page.fill(f"#e-{name.replace('_', '-')}", text)
    page.find("#new-endpoint button[type=submit]").click()
    listed: WebElement = page.wait_for(
        "the endpoint listed",
        lambda: next(e for e in page.all("#endpoints .endpoint") if url in e.text),
    )
    return listed


@pytest.fixture
def page(chrome: WebDriver, payflow: Served) -> Page:
    chrome.execute_script("try { sessionStorage.clear(); } catch (e) {}")
    return Page(chrome, payflow.base_url)


class Refusing:
    """A webhook receiver that answers 503 until told to recover, then 200."""

    def __init__(self) -> None:
        self.recovered = threading.Event()
        self.received: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = outer.recovered.is_set()
                if ok:
                    outer.received.append(body)
                reply = b'{"ok":true}' if ok else b'{"error":"down for maintenance"}'
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"


@pytest.fixture
def refusing() -> Iterator[Refusing]:
    receiver = Refusing()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join()
