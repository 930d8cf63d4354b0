"""The `payflow` fixture and the object it gives a test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from payflow.replies import problem_text
from payflow.testing._process import ServedPayflow, start_payflow
from payflow.testing._sink import ReceivedWebhook, Sink

POLL_SECONDS = 0.05
_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


# The events that announce an order's status to the webhook endpoints.
_ANNOUNCED_BY: dict[str, frozenset[str]] = {
    "Authorized": frozenset({"payment.authorized"}),
    "Paid": frozenset({"payment.succeeded", "payment.captured"}),
    "Failed": frozenset({"payment.failed"}),
    "Canceled": frozenset({"order.canceled"}),
    "PartiallyRefunded": frozenset({"refund.succeeded"}),
    "Refunded": frozenset({"refund.succeeded"}),
}


class Payflow:
    """What the `payflow` fixture gives a test: a running payflow on a test clock.

    `url` and `webhook_secret` (what payflow signs its webhooks with), `client` (an
    httpx client on `url`), `create_order(**fields)`, `wait_for(order_number, status)`,
    `advance(seconds)` and `received`, the webhooks delivered to this test's sink.
    """

    def __init__(
        self,
        url: str,
        webhook_secret: str,
        client: httpx.Client,
        received: list[ReceivedWebhook],
        sink_endpoint_id: str = "",
    ) -> None:
        self.url = url
        self.webhook_secret = webhook_secret
        self.client = client
        self.received = received
        self._sink_endpoint_id = sink_endpoint_id

    def create_order(self, **fields: Any) -> dict[str, Any]:
        """POST /api/orders and return the created order (amounts as `Decimal`).

        Fields are the order's, in snake_case or camelCase (`payment_method` or
        `paymentMethod`); `order_number` defaults to a fresh one and `amount` to 10.00.
        `idempotency_key` sets the header (default: a fresh key). Anything but 201 fails.
        """
        key = str(fields.pop("idempotency_key", None) or f"test-{uuid.uuid4().hex}")
        body: dict[str, Any] = {"orderNumber": f"ORD-{uuid.uuid4().hex[:12]}", "amount": 10}
        body.update({_camel(name): value for name, value in fields.items()})
        body["amount"] = _exact(body["amount"])
        response = self.client.post(
            "/api/orders",
            content=_encoder.encode(body),
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        if response.status_code != 201:
            raise AssertionError(f"creating the order failed: {problem_text(response)}")
        return _json(response)

    def wait_for(self, order_number: str, status: str, timeout: float = 10) -> dict[str, Any]:
        """The order once it has `status` (within `timeout` seconds), then once the sink has
        the webhook announcing that status and every other one sent for the order (within
        `timeout` more); else AssertionError saying what was seen."""
        order: dict[str, Any] | None = self._until(
            time.monotonic() + timeout, lambda: self._order_in(order_number, status)
        )
        if order is None:
            seen = self._get(f"/api/orders/{order_number}")
            raise AssertionError(
                f"order {order_number} not {status} after {timeout} s: "
                f"{seen.get('status') if isinstance(seen, dict) else seen}"
            )
        if self._until(
            time.monotonic() + timeout, lambda: self._sink_has_all(order_number, status)
        ):
            return order
        raise AssertionError(
            f"order {order_number} is {status}, but its webhooks did not all reach the sink "
            f"within {timeout} s; received: {[w.get('type') for w in self.received]}; "
            f"deliveries to the sink: {self._sink_deliveries(order_number)} (on the test "
            "clock a failed delivery is retried only once advance() reaches its next attempt)"
        )

    def advance(self, seconds: float) -> datetime:
        """Move payflow's test clock on; work that became due starts at once. Returns the
        clock's new time (wait for its effects with `wait_for`)."""
        response = self.client.post(
            "/api/test-clock/advance",
            content=_encoder.encode({"seconds": _exact(seconds)}),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise AssertionError(f"advancing the test clock failed: {problem_text(response)}")
        return datetime.fromisoformat(_json(response)["now"])

    def _order_in(self, order_number: str, status: str) -> dict[str, Any] | None:
        order = self._get(f"/api/orders/{order_number}")
        return order if isinstance(order, dict) and order.get("status") == status else None

    def _sink_has_all(self, order_number: str, status: str) -> bool:
        """The sink holds every event sent for the order, one announcing `status` among
        them: a capture, a cancel or an expiry sets the status before the worker sends
        its event, so the status alone does not mean the webhook is on its way."""
        events = self._get("/api/events", orderNumber=order_number, limit=500)
        if not isinstance(events, list):
            return False
        announcing = _ANNOUNCED_BY.get(status)
        if announcing and not any(event.get("type") in announcing for event in events):
            return False
        sent = {event["id"] for event in events}
        return sent <= {webhook.get("id") for webhook in list(self.received)}

    def _sink_deliveries(self, order_number: str) -> list[dict[str, Any]]:
        found = self._get(f"/api/webhook-endpoints/{self._sink_endpoint_id}/deliveries")
        if not isinstance(found, list):
            return []
        return [
            {"state": d.get("state"), "log": d.get("log"), "nextAttemptAt": d.get("nextAttemptAt")}
            for d in found
            if d.get("orderNumber") == order_number
        ]

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        if response.status_code != 200:
            return problem_text(response)
        return _decoder.decode(response.content)

    @staticmethod
    def _until(deadline: float, check: Any) -> Any:
        while True:
            if result := check():
                return result
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL_SECONDS)


@pytest.fixture(scope="session")
def payflow_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPayflow]:
    """The session's payflow process (started on first use, stopped at the end)."""
    served = start_payflow(tmp_path_factory.mktemp("payflow"))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def _payflow_sink() -> Iterator[Sink]:
    sink = Sink()
    yield sink
    sink.shutdown()


@pytest.fixture
def payflow(payflow_process: ServedPayflow, _payflow_sink: Sink) -> Iterator[Payflow]:
    """A running payflow on a test clock, with a webhook sink of this test's own."""
    with httpx.Client(base_url=payflow_process.url, timeout=30) as client:
        token = uuid.uuid4().hex
        endpoint = _register_sink(client, f"{_payflow_sink.base_url}/sink/{token}")
        received = _payflow_sink.open(token, endpoint["scheme"], endpoint["secret"])
        try:
            yield Payflow(
                payflow_process.url,
                payflow_process.webhook_secret,
                client,
                received,
                endpoint["id"],
            )
        finally:
            _payflow_sink.close(token)
            client.delete(f"/api/webhook-endpoints/{endpoint['id']}")


def _register_sink(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.post(
        "/api/webhook-endpoints",
        content=_encoder.encode({"url": url, "description": "pytest sink"}),
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    if response.status_code != 201:
        raise AssertionError(f"registering the webhook sink failed: {problem_text(response)}")
    return _json(response)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _exact(value: Any) -> Any:
    """Numbers go out exact: a float by its shortest repr, a numeric string as a number."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def _json(response: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = _decoder.decode(response.content)
    return value
