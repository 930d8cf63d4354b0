"""API keys, per-key data, rate limits and CORS (DESIGN §2), as a client meets them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow import signing
from payflow.api.access import bearer_token, client_id, matching_key
from payflow.lifespan import build_processor
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
KEY_A, KEY_B = "sk_test_a", "sk_test_b"
ORIGIN = "http://localhost:5173"


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


@pytest.fixture
async def keyed(mock_db: Any, clock: FakeClock) -> AsyncIterator[Client]:
    settings = make_settings(auth__api_keys=[KEY_A, KEY_B])
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        yield client


API_ROUTES = [
    ("GET", "/api/orders"),
    ("POST", "/api/orders"),
    ("GET", "/api/orders/ORD-1"),
    ("GET", "/api/orders/ORD-1/events"),
    ("POST", "/api/orders/ORD-1/cancel"),
    ("POST", "/api/orders/ORD-1/refunds"),
    ("GET", "/api/orders/ORD-1/refunds"),
    ("GET", "/api/events"),
    ("GET", "/api/deliveries/dlv_1"),
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_without_a_key_every_api_route_is_401(keyed: Client, method: str, path: str) -> None:
    response = await keyed.request(method, path, headers={"Idempotency-Key": "k"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="payflow"'
    assert response.json()["type"] == "/problems/unauthorized"


@pytest.mark.parametrize(
    "authorization", [f"Bearer {KEY_A}x", "Bearer sk_test_", "Bearer " + "a" * 300]
)
async def test_a_wrong_key_is_401_invalid_token(keyed: Client, authorization: str) -> None:
    response = await keyed.get("/api/orders", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="payflow", error="invalid_token"'


@pytest.mark.parametrize("authorization", [f"Basic {KEY_A}", KEY_A, "Bearer", "Bearer  "])
async def test_a_key_not_sent_as_a_bearer_token_is_missing(
    keyed: Client, authorization: str
) -> None:
    response = await keyed.get("/api/orders", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="payflow"'


async def test_either_configured_key_is_accepted(keyed: Client) -> None:
    for key in (KEY_A, KEY_B):
        assert (await keyed.get("/api/orders", headers=auth(key))).status_code == 200
    lower_scheme = await keyed.get("/api/orders", headers={"Authorization": f"bearer {KEY_A}"})
    assert lower_scheme.status_code == 200


async def test_the_webhook_receiver_and_operations_need_no_key(
    keyed: Client, clock: FakeClock
) -> None:
    created = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "k"}), content=order_body()
    )
    assert created.status_code == 201
    body = (
        b'{"id":"evt_1","type":"payment.succeeded","data":'
        b'{"orderNumber":"ORD-67890","amount":149.99,"currency":"USD"}}'
    )
    signature = signing.sign(
        signing.Scheme.PAYFLOW, body, ["super_secret_change_me"], int(clock.now.timestamp())
    )
    received = await keyed.post("/api/webhooks/payments", content=body, headers=signature)
    assert received.json()["outcome"] == "applied"
    for path in ("/health/live", "/metrics", "/swagger/openapi.json", "/problems/unauthorized"):
        assert (await keyed.get(path)).status_code == 200, path


async def test_one_keys_orders_are_invisible_to_another(keyed: Client) -> None:
    created = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "k"}), content=order_body("A-1")
    )
    assert created.status_code == 201
    assert (await keyed.get("/api/orders/A-1", headers=auth(KEY_A))).status_code == 200
    for path in ("/api/orders/A-1", "/api/orders/A-1/events", "/api/orders/A-1/refunds"):
        response = await keyed.get(path, headers=auth(KEY_B))
        assert response.status_code == 404, path
        assert response.json()["type"] == "/problems/not-found"
    assert (await keyed.get("/api/orders", headers=auth(KEY_B))).json() == []
    mine = (await keyed.get("/api/orders", headers=auth(KEY_A))).json()
    assert [o["orderNumber"] for o in mine] == ["A-1"]
    cancel = await keyed.post(
        "/api/orders/A-1/cancel", headers=auth(KEY_B, **{"Idempotency-Key": "c"})
    )
    assert cancel.status_code == 404
    refund = await keyed.post(
        "/api/orders/A-1/refunds", headers=auth(KEY_B, **{"Idempotency-Key": "r"})
    )
    assert refund.status_code == 404
    assert (await keyed.get("/api/orders/A-1", headers=auth(KEY_A))).json()["status"] == "Pending"


async def test_one_keys_events_and_deliveries_are_invisible_to_another(keyed: Client) -> None:
    created = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "k"}), content=order_body("A-1")
    )
    runtime = keyed.app_runtime  # type: ignore[attr-defined]
    await build_processor(runtime, keyed.app_http).process_order(created.json()["id"])  # type: ignore[attr-defined]
    [event] = (await keyed.get("/api/events", headers=auth(KEY_A))).json()
    [delivery] = (
        await keyed.get(f"/api/events/{event['id']}/deliveries", headers=auth(KEY_A))
    ).json()
    assert (await keyed.get(f"/api/deliveries/{delivery['id']}", headers=auth(KEY_A))).is_success
    assert (await keyed.get("/api/events", headers=auth(KEY_B))).json() == []
    for path in (
        f"/api/events/{event['id']}",
        f"/api/events/{event['id']}/deliveries",
        f"/api/deliveries/{delivery['id']}",
    ):
        assert (await keyed.get(path, headers=auth(KEY_B))).status_code == 404, path
    redeliver = await keyed.post(
        f"/api/deliveries/{delivery['id']}/redeliver",
        headers=auth(KEY_B, **{"Idempotency-Key": "r"}),
    )
    assert redeliver.status_code == 404


async def test_idempotency_keys_are_per_api_key(keyed: Client) -> None:
    a = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "same"}), content=order_body("A")
    )
    b = await keyed.post(
        "/api/orders", headers=auth(KEY_B, **{"Idempotency-Key": "same"}), content=order_body("B")
    )
    assert (a.status_code, b.status_code) == (201, 201)  # not 422: different clients
    assert "idempotent-replayed" not in b.headers
    replay = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "same"}), content=order_body("A")
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == a.content


async def test_an_order_number_another_key_uses_is_this_keys_own_and_theirs_stays_hidden(
    keyed: Client,
) -> None:
    a = await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "a"}), content=order_body("X")
    )
    b = await keyed.post(
        "/api/orders", headers=auth(KEY_B, **{"Idempotency-Key": "b"}), content=order_body("X")
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert (await keyed.get("/api/orders/X", headers=auth(KEY_A))).json()["id"] == a.json()["id"]
    assert (await keyed.get("/api/orders/X", headers=auth(KEY_B))).json()["id"] == b.json()["id"]
    again = await keyed.post(
        "/api/orders", headers=auth(KEY_B, **{"Idempotency-Key": "b2"}), content=order_body("X")
    )
    assert again.status_code == 409  # still unique within one key
    assert again.json()["type"] == "/problems/order-exists"


async def test_a_webhook_names_its_order_by_id_or_by_a_number_only_one_key_uses(
    keyed: Client, clock: FakeClock
) -> None:
    ids = {}
    for key in (KEY_A, KEY_B):
        created = await keyed.post(
            "/api/orders", headers=auth(key, **{"Idempotency-Key": "w"}), content=order_body("W")
        )
        ids[key] = created.json()["id"]

    async def receive(data: str, event_id: str) -> str:
        body = (
            f'{{"id":"{event_id}","type":"payment.succeeded","data":'
            f'{{{data}"orderNumber":"W","amount":149.99,"currency":"USD"}}}}'
        ).encode()
        signature = signing.sign(
            signing.Scheme.PAYFLOW, body, ["super_secret_change_me"], int(clock.now.timestamp())
        )
        received = await keyed.post("/api/webhooks/payments", content=body, headers=signature)
        outcome: str = received.json()["outcome"]
        return outcome

    assert await receive("", "evt_number_only") == "unmatched"  # which key's W? neither
    assert await receive(f'"orderId":"{ids[KEY_B]}",', "evt_by_id") == "applied"
    statuses = {
        key: (await keyed.get("/api/orders/W", headers=auth(key))).json()["status"]
        for key in (KEY_A, KEY_B)
    }
    assert statuses == {KEY_A: "Pending", KEY_B: "Paid"}
    trail_a = (await keyed.get("/api/orders/W/events", headers=auth(KEY_A))).json()
    assert "applied" not in [receipt["outcome"] for receipt in trail_a]


async def test_keys_never_reach_the_database(keyed: Client, mock_db: Any) -> None:
    await keyed.post(
        "/api/orders", headers=auth(KEY_A, **{"Idempotency-Key": "k"}), content=order_body()
    )
    await keyed.post(
        "/api/customers", headers=auth(KEY_A, **{"Idempotency-Key": "c"}), content=b"{}"
    )
    order = await mock_db.orders.find_one({})  # a create's order keeps its key's use
    record = await mock_db.idempotency.find_one({})  # other routes' keys have records
    assert order["scope"] == order["idempotency"]["scope"] == client_id(KEY_A)
    assert record["scope"] == client_id(KEY_A)
    assert KEY_A not in repr(order) + repr(record)


async def test_swagger_offers_the_bearer_key_when_keys_are_on(
    keyed: Client, client: Client
) -> None:
    document = (await keyed.get("/swagger/openapi.json")).json()
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert document["security"] == [{"apiKey": []}]
    assert "security" not in (await client.get("/swagger/openapi.json")).json()


def test_tokens_are_read_from_bearer_headers_only() -> None:
    assert bearer_token("Bearer sk_test_a") == "sk_test_a"
    assert bearer_token("  bearer   sk_test_a ") == "sk_test_a"
    assert bearer_token("Basic sk_test_a") is None
    assert bearer_token(None) is None
    assert matching_key("sk_test_b", ["sk_test_a", "sk_test_b"]) == "sk_test_b"
    assert matching_key("sk_test_c", ["sk_test_a", "sk_test_b"]) is None


# Rate limits -------------------------------------------------------------------------


@pytest.fixture
async def limited(mock_db: Any, clock: FakeClock) -> AsyncIterator[Client]:
    settings = make_settings(
        rate_limit__enabled=True,
        rate_limit__requests_per_minute=2,
        auth__api_keys=[KEY_A, KEY_B],
    )
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        yield client


async def test_past_the_limit_is_429_with_retry_after(limited: Client) -> None:
    for _ in range(2):
        assert (await limited.get("/api/orders", headers=auth(KEY_A))).status_code == 200
    response = await limited.get("/api/orders", headers=auth(KEY_A))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_each_key_has_its_own_limit_and_operations_have_none(limited: Client) -> None:
    for _ in range(3):
        await limited.get("/api/orders", headers=auth(KEY_A))
    assert (await limited.get("/api/orders", headers=auth(KEY_B))).status_code == 200
    for _ in range(5):
        assert (await limited.get("/health/live")).status_code == 200


async def test_requests_without_a_valid_key_are_limited_by_address(limited: Client) -> None:
    statuses = [(await limited.get("/api/orders")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert (await limited.get("/api/orders", headers=auth(KEY_A))).status_code == 200


# CORS -------------------------------------------------------------------------------


async def test_a_preflight_from_the_dev_server_allows_the_idempotent_post(client: Client) -> None:
    response = await client.options(
        "/api/Orders",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "idempotency-key"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_responses_to_the_dev_server_expose_the_contract_headers(client: Client) -> None:
    response = await client.post(
        "/api/orders",
        headers={"Origin": "http://127.0.0.1:5173", "Idempotency-Key": "k"},
        content=order_body(),
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"Location", "Idempotent-Replayed", "Link", "Retry-After"} <= exposed


async def test_another_origin_is_not_allowed(client: Client) -> None:
    preflight = await client.options(
        "/api/orders",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    plain = await client.get("/api/orders", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


async def test_a_preflight_needs_no_api_key(keyed: Client) -> None:
    response = await keyed.options(
        "/api/orders/ORD-1/refunds",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert response.status_code == 204
    unauthorized = await keyed.get("/api/orders", headers={"Origin": ORIGIN})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == ORIGIN  # readable by the page


async def test_cors_can_be_turned_off(mock_db: Any, clock: FakeClock) -> None:
    settings = make_settings(cors__allow_origins=[])
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        response = await client.get("/api/orders", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers
