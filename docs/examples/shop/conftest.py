"""The shop under test: served on a free port, registered with the `payflow` fixture.

`payflow` (the pytest fixture that comes with `pip install payflow`) runs a real payflow
on a test clock; the shop registers its webhook URL there like a merchant would in a
dashboard, and checks signature timestamps against payflow's clock, since tests may move
that clock days ahead of this machine's. The shop's payflow client carries two httpx event
hooks as a test seam: `faults` queued by a test go out as `Payflow-Fault` headers on the
next POSTs to payflow, and every request and answer is kept in `to_payflow`.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from shop import create_shop


@dataclass
class RunningShop:
    url: str
    endpoint_id: str
    http: httpx.Client
    faults: list[str] = field(default_factory=list)  # for the next POSTs to payflow
    to_payflow: list[httpx.Request | httpx.Response] = field(default_factory=list)

    def checkout(
        self, amount: str, card: str = "pm_card_visa", *, capture_on_shipment: bool = False
    ) -> dict[str, Any]:
        answer = self.http.post(
            "/checkout",
            content=(
                f'{{"amount":{amount},"card":"{card}",'
                f'"captureOnShipment":{str(capture_on_shipment).lower()}}}'
            ).encode(),
        )
        assert answer.status_code == 201, answer.text
        order: dict[str, Any] = answer.json()
        return order

    def order(self, order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.http.get(f"/orders/{order_id}").json()
        return found

    def settled(self, order_id: str, status: str, within: float = 10.0) -> dict[str, Any]:
        """The shop's order once its webhook has moved it to `status`."""
        settled: dict[str, Any] = until(
            lambda: _in_status(self.order(order_id), status), f"{order_id} {status}", within
        )
        return settled


def _in_status(order: dict[str, Any], status: str) -> dict[str, Any] | None:
    return order if order["status"] == status else None


def until(check: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    """`check()` once it is truthy; fails after `within` seconds saying what it waited for."""
    deadline = time.monotonic() + within
    while not (result := check()):
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)
    return result


@pytest.fixture
def shop(payflow: Any) -> Iterator[RunningShop]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        endpoint = payflow.client.post(
            "/api/webhook-endpoints",
            json={
                "url": f"{url}/webhooks/payflow",
                "events": [
                    "payment.succeeded",
                    "payment.failed",
                    "payment.authorized",
                    "payment.captured",
                    "order.canceled",
                ],
            },
            headers={"Idempotency-Key": f"shop-{uuid.uuid4().hex}"},
        ).json()

        def payflow_now() -> int:
            clock = httpx.get(f"{payflow.url}/api/test-clock").json()
            return int(datetime.fromisoformat(clock["now"]).timestamp())

        running = RunningShop(url, endpoint["id"], httpx.Client(base_url=url, timeout=10))

        async def on_request(request: httpx.Request) -> None:
            if request.method == "POST" and running.faults:
                request.headers["Payflow-Fault"] = running.faults.pop(0)
            running.to_payflow.append(request)

        async def on_response(response: httpx.Response) -> None:
            running.to_payflow.append(response)

        app = create_shop(
            payflow.url,
            endpoint["secret"],
            now=payflow_now,
            payflow_hooks={"request": [on_request], "response": [on_response]},
        )
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        try:
            until(lambda: server.started, "the shop to start")
            with running.http:
                yield running
        finally:
            payflow.client.delete(f"/api/webhook-endpoints/{endpoint['id']}")
            server.should_exit = True
            thread.join(10)
