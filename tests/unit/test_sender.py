"""The webhook sender: what a merchant's endpoint receives, and what its answer means."""

from __future__ import annotations

import httpx
import pytest

from payflow.domain.endpoints import Endpoint
from payflow.worker.sender import WebhookSender

pytestmark = pytest.mark.anyio

ENDPOINT = Endpoint(
    id="we_test", url="http://merchant.test/hooks", scheme="payflow", secrets=["s3cret"]
)


def recording(answer: httpx.Response) -> tuple[list[httpx.Request], httpx.MockTransport]:
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return answer

    return received, httpx.MockTransport(handle)


async def test_a_delivery_posts_the_signed_body_and_reads_the_answer() -> None:
    received, transport = recording(httpx.Response(200, text='{"received":true}'))
    result = await WebhookSender(transport, 5.0).deliver(ENDPOINT, b'{"id":"evt_1"}', "evt_1", 2, 0)
    assert (result.ok, result.status_code, result.error) == (True, 200, None)
    assert result.response_excerpt == '{"received":true}'
    request = received[0]
    assert (request.method, str(request.url), request.content) == (
        "POST",
        ENDPOINT.url,
        b'{"id":"evt_1"}',
    )
    assert request.headers["x-payflow-event-id"] == "evt_1"
    assert request.headers["x-payflow-delivery-attempt"] == "2"
    assert request.headers["x-signature"].startswith("t=0,")
    assert request.headers["content-type"] == "application/json"
    assert request.extensions["timeout"]["read"] == 5.0


async def test_a_cookie_the_merchant_sets_never_rides_along_on_the_next_webhook() -> None:
    received, transport = recording(httpx.Response(200, headers={"Set-Cookie": "session=abc"}))
    sender = WebhookSender(transport, 5.0)
    await sender.deliver(ENDPOINT, b"{}", "evt_1", 1, 0)
    await sender.deliver(ENDPOINT, b"{}", "evt_2", 1, 0)
    assert "cookie" not in received[1].headers


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed() -> None:
    received, transport = recording(
        httpx.Response(307, headers={"Location": "http://elsewhere.test/"})
    )
    result = await WebhookSender(transport, 5.0).deliver(ENDPOINT, b"{}", "evt_1", 1, 0)
    assert (result.ok, result.status_code, result.error) == (False, 307, "HTTP 307")
    assert len(received) == 1


async def test_a_refused_connection_is_a_failed_attempt_with_its_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = await WebhookSender(httpx.MockTransport(refuse), 5.0).deliver(
        ENDPOINT, b"{}", "evt_1", 1, 0
    )
    assert (result.ok, result.status_code) == (False, None)
    assert result.error == "ConnectError: connection refused"
