"""POST/GET /api/orders against the contract (DESIGN §1, §1.1, §1.2), on mongomock."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from payflow import idempotency
from payflow.domain.orders import keyed_order_id
from payflow.store.base import IdempotencyRecord
from tests.support import FakeClock, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


def key(name: str = "key-1") -> dict[str, str]:
    return {"Idempotency-Key": name, "Content-Type": "application/json"}


async def held_key(
    client: Client, name: str, lease_until: datetime, expires_at: datetime, **fields: Any
) -> None:
    """Put `name` in flight for `order_body()`, held by another (maybe dead) request."""
    payload = {"orderNumber": "ORD-67890", "amount": Decimal("149.99")}
    record = IdempotencyRecord(
        scope="global",
        key=name,
        fingerprint=idempotency.fingerprint("POST", "/api/orders", payload),
        state=idempotency.IN_PROGRESS,
        lease_token="other",
        lease_expires_at=lease_until,
        expires_at=expires_at,
        **fields,
    )
    await client.app_runtime.store.idempotency.claim(record)  # type: ignore[attr-defined]


async def test_create_returns_201_with_location_and_exact_amount(client: Client) -> None:
    response = await client.post("/api/orders", headers=key(), content=order_body())
    assert response.status_code == 201
    assert response.headers["location"] == "/api/orders/ORD-67890"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["orderNumber"] == "ORD-67890"
    assert body["status"] == "Pending"
    assert body["currency"] == "USD"
    assert body["paymentMethod"] == "pm_card_visa"
    assert body["paidAt"] is None
    assert body["id"].startswith("ord_")
    assert body["createdAt"] == "2036-11-22T20:47:01.123Z"
    assert b'"amount":149.99,' in response.content


@pytest.mark.parametrize(
    ("sent", "written"), [("75", b"75.00"), ("75.0", b"75.00"), ("0.1", b"0.10")]
)
async def test_amount_is_written_with_the_currency_minor_digits(
    client: Client, sent: str, written: bytes
) -> None:
    response = await client.post("/api/orders", headers=key(), content=order_body(amount=sent))
    assert response.status_code == 201
    assert b'"amount":' + written + b"," in response.content


async def test_yen_amounts_have_no_decimals(client: Client) -> None:
    body = b'{"orderNumber":"JP-1","amount":1500,"currency":"JPY"}'
    response = await client.post("/api/orders", headers=key(), content=body)
    assert response.status_code == 201
    assert b'"amount":1500,' in response.content


@pytest.mark.parametrize("sent", ["usd", "Usd", "USD"])
async def test_currency_is_accepted_in_any_letter_case_and_answered_upper_case(
    client: Client, sent: str
) -> None:
    body = order_body(currency=sent)
    response = await client.post("/api/orders", headers=key(), content=body)
    assert response.status_code == 201
    assert response.json()["currency"] == "USD"
    fetched = await client.get("/api/orders/ORD-67890")
    assert fetched.json()["currency"] == "USD"
    assert b'"amount":149.99,' in fetched.content  # the minor digits of USD, not a default


async def test_static_path_segments_match_case_insensitively(client: Client) -> None:
    response = await client.post("/api/Orders", headers=key(), content=order_body())
    assert response.status_code == 201
    fetched = await client.get("/API/ORDERS/ORD-67890")
    assert fetched.status_code == 200
    assert fetched.json()["orderNumber"] == "ORD-67890"


async def test_order_numbers_keep_their_case(client: Client) -> None:
    await client.post("/api/orders", headers=key(), content=order_body("abc"))
    assert (await client.get("/api/orders/ABC")).status_code == 404


async def test_replay_returns_identical_bytes_and_replayed_header(client: Client) -> None:
    first = await client.post("/api/orders", headers=key(), content=order_body())
    again = await client.post("/api/orders", headers=key(), content=order_body())
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_formatting_differences_are_not_a_mismatch(client: Client) -> None:
    await client.post("/api/orders", headers=key(), content=order_body())
    reformatted = b'{ "amount" : 149.990,\n  "orderNumber": "ORD-67890" }'
    again = await client.post("/api/orders", headers=key(), content=reformatted)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"


async def test_same_key_with_another_body_is_422(client: Client) -> None:
    await client.post("/api/orders", headers=key(), content=order_body())
    response = await client.post("/api/orders", headers=key(), content=order_body(amount="10"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_key_in_flight_is_409_with_retry_after(client: Client, clock: FakeClock) -> None:
    body = order_body()
    later = clock.now + timedelta(seconds=10)
    await held_key(client, "busy", later, later)
    response = await client.post("/api/orders", headers=key("busy"), content=body)
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/idempotency-in-progress")


async def test_dead_holder_is_taken_over_and_its_order_adopted(
    client: Client, clock: FakeClock
) -> None:
    """A holder that inserted the order and died: the retry returns that order, not a 409."""
    runtime = client.app_runtime  # type: ignore[attr-defined]
    first = await client.post("/api/orders", headers=key("k"), content=order_body())
    # Make the completed record look like one whose holder died before completing.
    await runtime.store.database.idempotency.update_one(
        {"key": "k"}, {"$set": {"state": "in_progress"}, "$unset": {"response": ""}}
    )
    clock.advance(seconds=31)  # past the 30 s lease
    retry = await client.post("/api/orders", headers=key("k"), content=order_body())
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert len((await client.get("/api/orders")).json()) == 1


async def test_key_may_be_reused_after_retention(client: Client, clock: FakeClock) -> None:
    await client.post("/api/orders", headers=key(), content=order_body("A-1"))
    clock.advance(hours=24, seconds=1)
    response = await client.post("/api/orders", headers=key(), content=order_body("A-2"))
    assert response.status_code == 201
    assert response.json()["orderNumber"] == "A-2"


async def test_a_key_reused_after_retention_makes_its_order_under_the_next_generations_id(
    client: Client, clock: FakeClock
) -> None:
    first = await client.post("/api/orders", headers=key("k"), content=order_body("A-1"))
    assert first.json()["id"] == keyed_order_id("global", "k", 0)
    clock.advance(hours=24, seconds=1)
    second = await client.post("/api/orders", headers=key("k"), content=order_body("A-2"))
    assert second.json()["id"] == keyed_order_id("global", "k", 1)
    replay = await client.post("/api/orders", headers=key("k"), content=order_body("A-2"))
    assert (replay.content, replay.headers["idempotent-replayed"]) == (second.content, "true")
    reused = await client.post("/api/orders", headers=key("k"), content=order_body("A-1"))
    assert reused.json()["type"].endswith("/idempotency-key-reused")


async def test_a_key_is_one_requests_across_routes_whichever_came_first(client: Client) -> None:
    """A create keeps its key's use on its order, not in a key record; other routes look
    there too, and a create looks at their records."""
    await client.post("/api/orders", headers=key("shared"), content=order_body("A-1"))
    customer = await client.post("/api/customers", headers=key("shared"), content=b"{}")
    assert customer.status_code == 422
    assert customer.json()["type"].endswith("/idempotency-key-reused")
    await client.post("/api/customers", headers=key("theirs"), content=b"{}")
    order = await client.post("/api/orders", headers=key("theirs"), content=order_body("A-2"))
    assert order.status_code == 422
    assert order.json()["type"].endswith("/idempotency-key-reused")
    assert len((await client.get("/api/orders")).json()) == 1


async def test_duplicate_order_number_under_another_key_is_409_and_replayed(client: Client) -> None:
    await client.post("/api/orders", headers=key("a"), content=order_body())
    conflict = await client.post("/api/orders", headers=key("b"), content=order_body())
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/order-exists")
    replay = await client.post("/api/orders", headers=key("b"), content=order_body())
    assert replay.status_code == 409
    assert replay.content == conflict.content
    assert replay.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    ("headers", "slug"),
    [
        ({}, "idempotency-key-missing"),
        ({"Idempotency-Key": ""}, "idempotency-key-missing"),
        ({"Idempotency-Key": "x" * 256}, "idempotency-key-invalid"),
        ({"Idempotency-Key": "   "}, "idempotency-key-missing"),
        ({"Idempotency-Key": "tab\tinside"}, "idempotency-key-invalid"),
        ({"Idempotency-Key": "del\x7finside"}, "idempotency-key-invalid"),
    ],
)
async def test_bad_idempotency_keys_are_400(
    client: Client, headers: dict[str, str], slug: str
) -> None:
    response = await client.post("/api/orders", headers=headers, content=order_body())
    assert response.status_code == 400
    assert response.json()["type"].endswith(f"/{slug}")


async def test_a_key_with_spaces_inside_is_one_key_without_the_spaces_around_it(
    client: Client,
) -> None:
    first = await client.post("/api/orders", headers=key("order 42 try 1"), content=order_body())
    assert first.status_code == 201
    again = await client.post("/api/orders", headers=key(" order 42 try 1 "), content=order_body())
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_255_character_key_is_accepted(client: Client) -> None:
    response = await client.post("/api/orders", headers=key("k" * 255), content=order_body())
    assert response.status_code == 201


BAD_BODIES = {
    "not json": b"not json",
    "array": b"[1,2]",
    "string": b'"hello"',
    "empty": b"",
    "missing fields": b"{}",
    "missing amount": b'{"orderNumber":"A"}',
    "negative": b'{"orderNumber":"A","amount":-1}',
    "zero": b'{"orderNumber":"A","amount":0}',
    "string amount": b'{"orderNumber":"A","amount":"149.99"}',
    "huge": b'{"orderNumber":"A","amount":1e300}',
    "three decimals usd": b'{"orderNumber":"A","amount":1.001}',
    "decimals jpy": b'{"orderNumber":"A","amount":1.5,"currency":"JPY"}',
    "nan": b'{"orderNumber":"A","amount":NaN}',
    "too many digits": b'{"orderNumber":"A","amount":' + b"9" * 10_000 + b"}",
    "bool amount": b'{"orderNumber":"A","amount":true}',
    "over max": b'{"orderNumber":"A","amount":100000000}',
    "currency short": b'{"orderNumber":"A","amount":1,"currency":"US"}',
    "currency lower unknown": b'{"orderNumber":"A","amount":1,"currency":"xxx"}',
    "currency unknown": b'{"orderNumber":"A","amount":1,"currency":"XXX"}',
    "order number empty": b'{"orderNumber":"","amount":1}',
    "order number 65": b'{"orderNumber":"' + b"A" * 65 + b'","amount":1}',
    "order number space": b'{"orderNumber":"A B","amount":1}',
    "order number dollar": b'{"orderNumber":"A$","amount":1}',
    "order number brace": b'{"orderNumber":"A{","amount":1}',
    "operator in order number": b'{"orderNumber":{"$gt":""},"amount":1}',
    "operator in amount": b'{"orderNumber":"A","amount":{"$gt":0}}',
    "operator in currency": b'{"orderNumber":"A","amount":1,"currency":{"$ne":null}}',
    "operator in metadata": b'{"orderNumber":"A","amount":1,"metadata":{"k":{"$gt":""}}}',
    "dollar metadata key": b'{"orderNumber":"A","amount":1,"metadata":{"$where":"x"}}',
    "unknown field": b'{"orderNumber":"A","amount":1,"extra":1}',
    "unknown payment method": b'{"orderNumber":"A","amount":1,"paymentMethod":"pm_nope"}',
    "too much metadata": b'{"orderNumber":"A","amount":1,"metadata":{'
    + b",".join(b'"k%d":"v"' % i for i in range(21))
    + b"}}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_bad_bodies_are_400_problems_and_store_nothing(client: Client, body: bytes) -> None:
    response = await client.post("/api/orders", headers=key(), content=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation-error")
    assert problem["status"] == 400
    assert problem["errors"]
    assert (await client.get("/api/orders")).json() == []
    # Nothing was kept for the key: a corrected request with it is a first request.
    corrected = await client.post("/api/orders", headers=key(), content=order_body())
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected.headers


async def test_validation_errors_name_the_field(client: Client) -> None:
    response = await client.post(
        "/api/orders", headers=key(), content=b'{"orderNumber":"A","amount":1.001}'
    )
    assert response.json()["errors"] == [
        {"field": "amount", "message": "USD amounts have at most 2 decimal places"}
    ]


async def test_body_over_the_limit_is_413(client: Client) -> None:
    response = await client.post("/api/orders", headers=key(), content=b"x" * 3_000_000)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")


async def test_get_unknown_order_is_404_problem(client: Client) -> None:
    response = await client.get("/api/orders/NOPE")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")


async def test_list_is_a_plain_array_newest_first_with_link_pagination(
    client: Client, clock: FakeClock
) -> None:
    for n in range(5):
        clock.advance(seconds=1)
        await client.post("/api/orders", headers=key(f"k{n}"), content=order_body(f"O-{n}"))
    first = await client.get("/api/orders", params={"limit": 2})
    assert [o["orderNumber"] for o in first.json()] == ["O-4", "O-3"]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    second = await client.get(link[1 : link.index(">")])
    assert [o["orderNumber"] for o in second.json()] == ["O-2", "O-1"]
    link = second.headers["link"]
    third = await client.get(link[1 : link.index(">")])
    assert [o["orderNumber"] for o in third.json()] == ["O-0"]
    assert "link" not in third.headers


async def test_list_filters_by_status(client: Client) -> None:
    await client.post("/api/orders", headers=key(), content=order_body())
    assert len((await client.get("/api/orders?status=Pending")).json()) == 1
    assert (await client.get("/api/orders?status=Paid")).json() == []


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=abc", "status=Nope", "cursor=%%%", "cursor=bm90IGEgY3Vyc29y"],
)
async def test_bad_list_parameters_are_400(client: Client, query: str) -> None:
    response = await client.get(f"/api/orders?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.delete("/api/orders")
    assert wrong.status_code == 405
    assert wrong.json()["type"].endswith("/method-not-allowed")


async def test_a_key_naming_an_order_not_yet_inserted_is_in_flight(
    client: Client, clock: FakeClock
) -> None:
    """The holder claimed the key and has not inserted its order yet (or died first)."""
    day = clock.now + timedelta(hours=24)
    await held_key(client, "held", clock.now + timedelta(seconds=30), day, result_order="ORD-67890")
    busy = await client.post("/api/orders", headers=key("held"), content=order_body())
    assert busy.status_code == 409
    assert busy.json()["type"].endswith("/idempotency-in-progress")
    clock.advance(seconds=31)  # the holder is gone: the retry takes over and creates it
    taken = await client.post("/api/orders", headers=key("held"), content=order_body())
    assert taken.status_code == 201
    assert "idempotent-replayed" not in taken.headers
    replay = await client.post("/api/orders", headers=key("held"), content=order_body())
    assert (replay.content, replay.headers["idempotent-replayed"]) == (taken.content, "true")


async def test_an_order_of_that_number_made_by_another_key_does_not_complete_a_key(
    client: Client, clock: FakeClock
) -> None:
    """A record naming an order that another key created is not answered with that order."""
    theirs = await client.post("/api/orders", headers=key("theirs"), content=order_body())
    assert theirs.status_code == 201
    day = clock.now + timedelta(hours=24)
    await held_key(client, "mine", clock.now, day, result_order="ORD-67890")  # its holder died
    mine = await client.post("/api/orders", headers=key("mine"), content=order_body())
    assert mine.status_code == 409
    assert mine.json()["type"].endswith("/order-exists")
    again = await client.post("/api/orders", headers=key("mine"), content=order_body())
    assert (again.content, again.headers["idempotent-replayed"]) == (mine.content, "true")
