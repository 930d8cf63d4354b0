"""Events, deliveries and redelivery over HTTP (issue: durable delivery)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow.lifespan import build_processor
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


async def paid_order(client: Client, number: str = "A-1") -> str:
    created = await client.post(
        "/api/orders", headers={"Idempotency-Key": number}, content=order_body(number)
    )
    processor = build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]
    await processor.process_order(created.json()["id"])
    [event] = (await client.get(f"/api/events?orderNumber={number}")).json()
    event_id: str = event["id"]
    return event_id


async def test_event_is_returned_byte_for_byte_as_delivered(client: Client, mock_db: Any) -> None:
    event_id = await paid_order(client)
    response = await client.get(f"/api/events/{event_id}")
    assert response.status_code == 200
    delivery = await mock_db.deliveries.find_one({"eventId": event_id})
    assert response.content == bytes(delivery["body"])
    event = response.json()
    assert event["type"] == "payment.succeeded"
    assert event["data"]["orderNumber"] == "A-1"
    assert b'"amount":149.99' in response.content


async def test_events_filter_by_type_and_paginate_with_link(
    client: Client, clock: FakeClock
) -> None:
    for n in range(3):
        clock.advance(seconds=1)
        await paid_order(client, f"A-{n}")
    page = await client.get("/api/events?type=payment.succeeded&limit=2")
    assert [e["data"]["orderNumber"] for e in page.json()] == ["A-2", "A-1"]
    link = page.headers["link"]
    rest = await client.get(link[1 : link.index(">")])
    assert [e["data"]["orderNumber"] for e in rest.json()] == ["A-0"]
    assert (await client.get("/api/events?type=payment.failed")).json() == []


async def test_deliveries_show_the_attempt_log(client: Client) -> None:
    event_id = await paid_order(client)
    [delivery] = (await client.get(f"/api/events/{event_id}/deliveries")).json()
    assert delivery["state"] == "succeeded"
    assert delivery["attempts"] == 1
    assert delivery["endpointId"] == "we_default"
    [attempt] = delivery["log"]
    assert attempt["statusCode"] == 200
    assert '"outcome":"applied"' in attempt["response"]
    single = await client.get(f"/api/deliveries/{delivery['id']}")
    assert single.json() == delivery


async def test_unknown_event_and_delivery_are_404(client: Client) -> None:
    for path in ["/api/events/evt_nope", "/api/events/evt_nope/deliveries", "/api/deliveries/x"]:
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["type"].endswith("/not-found")


async def test_dead_delivery_is_brought_home_by_redeliver(mock_db: Any, clock: FakeClock) -> None:
    dead_end = make_settings(
        webhooks__target_url="http://127.0.0.1:9/down", processing__max_attempts=1
    )
    async with app_client(mock_db, clock=clock, settings=dead_end, deliver_in_process=False) as c:
        created = await c.post(
            "/api/orders", headers={"Idempotency-Key": "k"}, content=order_body()
        )
        processor = build_processor(c.app_runtime, c.app_http)  # type: ignore[attr-defined]
        await processor.process_order(created.json()["id"])
        delivery = await mock_db.deliveries.find_one({})
        assert delivery["state"] == "dead"
    # The receiver is back (this process's own endpoint again).
    async with app_client(mock_db, clock=clock) as client:
        url = f"/api/deliveries/{delivery['_id']}/redeliver"
        response = await client.post(url, headers={"Idempotency-Key": "again"})
        assert response.status_code == 202
        assert response.json()["state"] == "pending"
        replay = await client.post(url, headers={"Idempotency-Key": "again"})
        assert replay.content == response.content
        assert replay.headers["idempotent-replayed"] == "true"
        processor = build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]
        await processor.deliver_by_id(delivery["_id"])
        home = (await client.get(f"/api/deliveries/{delivery['_id']}")).json()
        assert home["state"] == "succeeded"
        assert [a["statusCode"] for a in home["log"]] == [None, 200]
        assert (await client.get("/api/orders/ORD-67890")).json()["status"] == "Paid"


async def test_redeliver_of_an_unfinished_delivery_is_409(mock_db: Any, clock: FakeClock) -> None:
    down = make_settings(webhooks__target_url="http://127.0.0.1:9/down")
    async with app_client(mock_db, clock=clock, settings=down, deliver_in_process=False) as client:
        created = await client.post(
            "/api/orders", headers={"Idempotency-Key": "k"}, content=order_body()
        )
        processor = build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]
        await processor.process_order(created.json()["id"])
        delivery = await mock_db.deliveries.find_one({})
        assert delivery["state"] == "pending"  # failed once, retry scheduled
        url = f"/api/deliveries/{delivery['_id']}/redeliver"
        response = await client.post(url, headers={"Idempotency-Key": "r"})
        assert response.status_code == 409
        assert response.json()["type"].endswith("/delivery-not-finished")
        missing = await client.post(
            "/api/deliveries/nope/redeliver", headers={"Idempotency-Key": "r2"}
        )
        assert missing.status_code == 404
        assert (await client.post(url)).status_code == 400  # Idempotency-Key required
