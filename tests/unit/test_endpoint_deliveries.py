"""Registered endpoints receive events signed with their own secret and scheme, and rotate.

The gateway's HTTP client is an httpx MockTransport: every request payflow sends is
captured, so a test can verify exactly what a merchant's endpoint would have received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from payflow import signing
from payflow.domain.endpoints import RegisteredEndpoint, SecretVersion
from payflow.lifespan import build_processor
from tests.support import FakeClock, app_client, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
ROUTE = "/api/webhook-endpoints"
SHOP_URL = "http://shop.test/webhooks"


@dataclass
class Receiver:
    """Answers 200 to everything and keeps what was sent to the shop."""

    received: list[httpx.Request] = field(default_factory=list)
    status: int = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == SHOP_URL:
            self.received.append(request)
            return httpx.Response(self.status, json={"ok": True})
        return httpx.Response(200, json={"received": True})


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def shop(mock_db: Any, clock: FakeClock, receiver: Receiver) -> AsyncIterator[Client]:
    async with (
        httpx.MockTransport(receiver) as http,
        app_client(mock_db, clock=clock, http_transport=http) as client,
    ):
        yield client


async def register(
    client: Client, scheme: str = "payflow", events: str = '["*"]'
) -> dict[str, Any]:
    body = f'{{"url":"{SHOP_URL}","scheme":"{scheme}","events":{events}}}'.encode()
    response = await client.post(ROUTE, headers={"Idempotency-Key": body.hex()}, content=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def pay(client: Client, number: str, method: str = "pm_card_visa") -> None:
    created = await client.post(
        "/api/orders",
        headers={"Idempotency-Key": number},
        content=order_body(number, paymentMethod=method),
    )
    processor = build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]
    await processor.process_order(created.json()["id"])


def verify(scheme: str, request: httpx.Request, secrets: list[str], now: int) -> int:
    return signing.verify(signing.Scheme(scheme), request.content, request.headers, secrets, now)


@pytest.mark.parametrize("scheme", ["payflow", "stripe", "standard"])
async def test_endpoint_receives_events_signed_with_its_own_secret_and_scheme(
    shop: Client, receiver: Receiver, clock: FakeClock, scheme: str
) -> None:
    endpoint = await register(shop, scheme)
    await pay(shop, "A-1")
    [request] = receiver.received
    now = int(clock.now.timestamp())
    assert verify(scheme, request, [endpoint["secret"]], now) == now
    assert signing.detect_scheme(request.headers) is signing.Scheme(scheme)
    with pytest.raises(signing.SignatureError):
        verify(scheme, request, ["super_secret_change_me"], now)  # not the built-in secret
    event = await shop.get(f"/api/events/{request.headers['x-payflow-event-id']}")
    assert request.content == event.content
    assert event.json()["data"]["orderNumber"] == "A-1"


async def test_built_in_endpoint_still_gets_every_event(shop: Client, receiver: Receiver) -> None:
    endpoint = await register(shop)
    await pay(shop, "A-1")
    [event] = (await shop.get("/api/events")).json()
    deliveries = (await shop.get(f"/api/events/{event['id']}/deliveries")).json()
    assert sorted(d["endpointId"] for d in deliveries) == sorted([endpoint["id"], "we_default"])
    assert all(d["state"] == "succeeded" for d in deliveries)


async def test_endpoint_gets_only_the_event_types_it_asked_for(
    shop: Client, receiver: Receiver
) -> None:
    await register(shop, events='["payment.failed"]')
    await pay(shop, "OK-1")
    assert receiver.received == []
    await pay(shop, "NO-1", "pm_card_chargeDeclined")
    [request] = receiver.received
    assert b'"type":"payment.failed"' in request.content


async def test_rotation_signs_with_both_secrets_then_only_the_new_one(
    shop: Client, receiver: Receiver, clock: FakeClock
) -> None:
    endpoint = await register(shop, "stripe")
    old = endpoint["secret"]
    rotated = await shop.post(
        f"{ROUTE}/{endpoint['id']}/rotate-secret", headers={"Idempotency-Key": "rotate"}
    )
    new = rotated.json()["secret"]

    clock.advance(hours=23, minutes=59)
    await pay(shop, "IN-WINDOW")
    during = receiver.received[-1]
    now = int(clock.now.timestamp())
    assert during.headers["stripe-signature"].count("v1=") == 2
    assert verify("stripe", during, [old], now) == now
    assert verify("stripe", during, [new], now) == now

    clock.advance(minutes=1)  # exactly 24 h after the rotation: the grace period is over
    await pay(shop, "AFTER-WINDOW")
    after = receiver.received[-1]
    now = int(clock.now.timestamp())
    assert after.headers["stripe-signature"].count("v1=") == 1
    assert verify("stripe", after, [new], now) == now
    with pytest.raises(signing.SignatureError) as caught:
        verify("stripe", after, [old], now)
    assert caught.value.reason == "no-matching-signature"


async def test_endpoint_deliveries_are_listed_newest_first(
    shop: Client, receiver: Receiver, clock: FakeClock
) -> None:
    endpoint = await register(shop)
    for number in ["A-1", "A-2", "A-3"]:
        clock.advance(seconds=1)
        await pay(shop, number)
    page = await shop.get(f"{ROUTE}/{endpoint['id']}/deliveries?limit=2")
    assert [d["orderNumber"] for d in page.json()] == ["A-3", "A-2"]
    assert all(d["log"][0]["statusCode"] == 200 for d in page.json())
    link = page.headers["link"]
    rest = await shop.get(link[1 : link.index(">")])
    assert [d["orderNumber"] for d in rest.json()] == ["A-1"]
    bad = await shop.get(f"{ROUTE}/{endpoint['id']}/deliveries?cursor=nope")
    assert bad.status_code == 400


async def test_a_failing_endpoint_is_retried_without_touching_the_others(
    shop: Client, receiver: Receiver
) -> None:
    receiver.status = 500
    endpoint = await register(shop)
    await pay(shop, "A-1")
    [delivery] = (await shop.get(f"{ROUTE}/{endpoint['id']}/deliveries")).json()
    assert delivery["state"] == "pending"
    assert delivery["log"][0]["statusCode"] == 500
    [built_in] = (await shop.get(f"{ROUTE}/we_default/deliveries")).json()
    assert built_in["state"] == "succeeded"


async def test_pending_delivery_of_a_deleted_endpoint_ends_dead(
    shop: Client, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.status = 503
    endpoint = await register(shop)
    await pay(shop, "A-1")
    [delivery] = (await shop.get(f"{ROUTE}/{endpoint['id']}/deliveries")).json()
    assert (await shop.delete(f"{ROUTE}/{endpoint['id']}")).status_code == 200
    clock.advance(hours=1)
    processor = build_processor(shop.app_runtime, shop.app_http)  # type: ignore[attr-defined]
    await processor.deliver_by_id(delivery["id"])
    dead = (await shop.get(f"/api/deliveries/{delivery['id']}")).json()
    assert dead["state"] == "dead"
    assert dead["log"][-1]["error"] == "endpoint no longer exists"


async def test_endpoint_registered_by_another_process_is_found_by_the_next_refresh(
    shop: Client, receiver: Receiver, clock: FakeClock
) -> None:
    runtime = shop.app_runtime  # type: ignore[attr-defined]
    elsewhere = RegisteredEndpoint(
        id="we_elsewhere",
        url=SHOP_URL,
        scheme="payflow",
        events=("*",),
        description=None,
        secrets=(SecretVersion("whsec_from_another_process"),),
        created_at=clock.now,
        updated_at=clock.now,
    )
    await runtime.store.endpoints.insert(elsewhere)  # as another process would
    await pay(shop, "BEFORE")
    assert receiver.received == []  # this process has not refreshed yet
    await runtime.directory.refresh()  # what the refresh loop does every poll interval
    await pay(shop, "AFTER")
    [request] = receiver.received
    assert verify("payflow", request, ["whsec_from_another_process"], int(clock.now.timestamp()))


async def test_a_retry_finds_an_endpoint_this_process_has_not_loaded_yet(
    mock_db: Any, clock: FakeClock, receiver: Receiver
) -> None:
    receiver.status = 500
    async with (
        httpx.MockTransport(receiver) as http,
        app_client(mock_db, clock=clock, http_transport=http) as first,
    ):
        endpoint = await register(first)
        await pay(first, "A-1")
        [delivery] = (await first.get(f"{ROUTE}/{endpoint['id']}/deliveries")).json()
    receiver.status = 200
    async with (
        httpx.MockTransport(receiver) as http,
        app_client(mock_db, clock=clock, http_transport=http) as second,
    ):
        runtime = second.app_runtime  # type: ignore[attr-defined]
        runtime.directory._registered = ()  # a directory that has not caught up
        clock.advance(hours=1)
        await build_processor(runtime, second.app_http).deliver_by_id(  # type: ignore[attr-defined]
            delivery["id"]
        )
        done = (await second.get(f"/api/deliveries/{delivery['id']}")).json()
        assert done["state"] == "succeeded"
