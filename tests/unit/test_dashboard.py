"""The dashboard's server side: its pages, its change stream, and Swagger UI's own assets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow.api.access import client_id
from payflow.dashboard import stream
from payflow.dashboard.changes import ChangeTracker, change_messages, order_feed
from payflow.domain.orders import Order, OrderStatus
from payflow.lifespan import runtime_of
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
KEY_A, KEY_B = "sk_test_a", "sk_test_b"
T0 = datetime(2026, 11, 22, 20, 47, 1, tzinfo=UTC)


def order(number: str, status: OrderStatus = OrderStatus.PENDING, seconds: int = 0) -> Order:
    return Order(
        id=f"ord_{number}",
        order_number=number,
        amount=Decimal("10.00"),
        currency="USD",
        status=status,
        payment_method="pm_card_visa",
        created_at=T0,
        updated_at=T0 + timedelta(seconds=seconds),
    )


def test_the_tracker_reports_new_and_changed_orders_oldest_first() -> None:
    tracker = ChangeTracker()
    newest_first = [order("B"), order("A")]
    assert [c["orderNumber"] for c in tracker.changed(newest_first)] == ["A", "B"]
    assert tracker.changed(newest_first) == []

    paid = [order("C"), order("B", OrderStatus.PAID, seconds=1), order("A")]
    assert tracker.changed(paid) == [
        {"orderNumber": "B", "status": "Paid", "updatedAt": "2026-11-22T20:47:02.000Z"},
        {"orderNumber": "C", "status": "Pending", "updatedAt": "2026-11-22T20:47:01.000Z"},
    ]


def test_the_tracker_forgets_orders_that_left_the_window() -> None:
    tracker = ChangeTracker()
    tracker.changed([order("B"), order("A")])
    tracker.changed([order("C"), order("B")])
    assert set(tracker.seen) == {"B", "C"}


async def test_the_stream_says_ready_then_only_what_changed() -> None:
    reads: list[Sequence[Order]] = [
        [order("A")],
        [order("A")],
        [order("B"), order("A", OrderStatus.PAID, seconds=2)],
    ]

    async def read() -> Sequence[Order]:
        return reads.pop(0)

    messages = [m async for m in change_messages(read, lambda: True, polls=3, interval=0)]
    assert [(m.event, m.data) for m in messages] == [
        ("ready", "{}"),
        ("order", '{"orderNumber":"A","status":"Paid","updatedAt":"2026-11-22T20:47:03.000Z"}'),
        ("order", '{"orderNumber":"B","status":"Pending","updatedAt":"2026-11-22T20:47:01.000Z"}'),
    ]


async def test_the_stream_ends_when_the_process_stops() -> None:
    async def read() -> Sequence[Order]:
        raise AssertionError("no read once stopping")

    assert [m async for m in change_messages(read, lambda: False, interval=0)] == []


@pytest.fixture
async def keyed(mock_db: Any, clock: FakeClock) -> AsyncIterator[Client]:
    settings = make_settings(auth__api_keys=[KEY_A, KEY_B])
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        yield client


def bearer(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def test_the_feed_shows_a_key_only_its_own_orders(keyed: Client) -> None:
    for key, number in [(KEY_A, "ORD-A"), (KEY_B, "ORD-B")]:
        created = await keyed.post(
            "/api/orders",
            content=order_body(number),
            headers=bearer(key, **{"Idempotency-Key": number}),
        )
        assert created.status_code == 201
    orders = runtime_of(keyed.app).store.orders
    assert [o.order_number for o in await order_feed(orders, client_id(KEY_A), None)()] == ["ORD-A"]
    assert await order_feed(orders, client_id(KEY_A), "ORD-B")() == []
    assert [o.order_number for o in await order_feed(orders, None, "ORD-B")()] == ["ORD-B"]


async def test_the_stream_needs_a_key_when_keys_are_on(
    keyed: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = await keyed.get(stream.PATH)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"

    monkeypatch.setattr(stream, "MAX_POLLS", 1)
    answered = await keyed.get(stream.PATH, headers=bearer(KEY_A))
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/event-stream")
    assert "event: ready" in answered.text


async def test_a_malformed_order_number_is_a_validation_problem(client: Client) -> None:
    response = await client.get(stream.PATH, params={"orderNumber": "no spaces allowed"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/validation-error"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard",
        "/dashboard/",
        "/dashboard/events",
        "/dashboard/endpoints",
        "/dashboard/customers",
    ],
)
async def test_pages_are_html_that_loads_nothing_from_elsewhere(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert '<script src="/dashboard/static/dashboard.js" defer></script>' in response.text
    assert "http://" not in response.text.replace("http://127.0.0.1:3000/webhooks", "")
    assert "https://" not in response.text


async def test_an_order_page_escapes_the_order_number(client: Client) -> None:
    response = await client.get("/dashboard/orders/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert response.status_code == 200
    assert "<img src=x" not in response.text
    assert 'data-order="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in response.text


async def test_the_dashboard_needs_no_key_but_its_data_does(keyed: Client) -> None:
    assert (await keyed.get("/dashboard")).status_code == 200
    assert (await keyed.get("/dashboard/static/dashboard.js")).status_code == 200
    assert (await keyed.get("/api/orders")).status_code == 401


async def test_swagger_ui_comes_from_payflow_itself(client: Client) -> None:
    page = await client.get("/swagger/index.html")
    assert page.status_code == 200
    loads = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert len(loads) == 4  # the icon, the styles and two scripts
    assert all(url.startswith("/static/swagger-ui/") for url in loads), loads
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/static/swagger-ui/{asset}" in page.text
        served = await client.get(f"/static/swagger-ui/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 10_000
