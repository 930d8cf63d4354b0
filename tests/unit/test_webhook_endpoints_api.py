"""`/api/webhook-endpoints`: register, list, fetch, delete, rotate — the contract over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.support import FakeClock, app_client, make_settings, problem_slug

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
ROUTE = "/api/webhook-endpoints"
SHOP = b'{"url":"http://127.0.0.1:3000/webhooks","events":["payment.succeeded"],"scheme":"stripe"}'


async def register(client: Client, body: bytes = SHOP, key: str = "ep-1") -> dict[str, Any]:
    response = await client.post(ROUTE, headers={"Idempotency-Key": key}, content=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_returns_the_endpoint_with_its_secret_and_location(client: Client) -> None:
    response = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=SHOP)
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("we_")
    assert response.headers["location"] == f"{ROUTE}/{created['id']}"
    assert created["secret"].startswith("whsec_")
    assert created["url"] == "http://127.0.0.1:3000/webhooks"
    assert created["events"] == ["payment.succeeded"]
    assert created["scheme"] == "stripe"
    assert created["builtIn"] is False


async def test_defaults_are_every_event_and_the_payflow_scheme(client: Client) -> None:
    created = await register(client, b'{"url":"https://shop.example/hooks"}')
    assert created["events"] == ["*"]
    assert created["scheme"] == "payflow"
    assert created["description"] is None


async def test_standard_scheme_gets_a_base64_whsec_secret(client: Client) -> None:
    created = await register(client, b'{"url":"http://127.0.0.1:3000/h","scheme":"standard"}')
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) == len("whsec_") + 32  # base64 of 24 random bytes


async def test_secret_is_never_shown_by_get_or_list(client: Client) -> None:
    created = await register(client)
    one = (await client.get(f"{ROUTE}/{created['id']}")).json()
    assert "secret" not in one
    assert one == {k: v for k, v in created.items() if k != "secret"}
    listed = (await client.get(ROUTE)).json()
    assert all("secret" not in e for e in listed)
    assert created["secret"] not in (await client.get(ROUTE)).text


async def test_list_starts_with_the_built_in_endpoint_then_newest_first(
    client: Client, clock: FakeClock
) -> None:
    first = await register(client, key="a")
    clock.advance(seconds=1)
    second = await register(client, key="b")
    listed = (await client.get(ROUTE)).json()
    assert [e["id"] for e in listed] == ["we_default", second["id"], first["id"]]
    built_in = listed[0]
    assert built_in["builtIn"] is True
    assert built_in["url"] == "http://127.0.0.1:8000/api/webhooks/payments"
    assert built_in["scheme"] == "payflow"
    assert (await client.get(f"{ROUTE}/we_default")).json() == built_in


async def test_same_key_and_body_replays_the_same_bytes(client: Client) -> None:
    first = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=SHOP)
    again = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=SHOP)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(ROUTE)).json()) == 2  # built-in + one


async def test_same_key_with_another_body_is_422(client: Client) -> None:
    await register(client, key="k")
    other = await client.post(
        ROUTE, headers={"Idempotency-Key": "k"}, content=b'{"url":"http://127.0.0.1:1/x"}'
    )
    assert other.status_code == 422
    assert problem_slug(other) == "idempotency-key-reused"


async def test_create_without_a_key_is_400(client: Client) -> None:
    response = await client.post(ROUTE, content=SHOP)
    assert response.status_code == 400
    assert problem_slug(response) == "idempotency-key-missing"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"url":"ftp://example.com/x"}', "url"),
        (b'{"url":"/relative/path"}', "url"),
        (b'{"url":"http://"}', "url"),
        (b'{"url":"http://example.com:99999/x"}', "url"),
        (b'{"url":"http://exa mple.com/x"}', "url"),
        (b'{"url":"http://example.com/x#frag"}', "url"),
        (b'{"url":"http://ex\\u00e4mple.com/"}', "url"),
        (b'{"url":""}', "url"),
        (b'{"url":42}', "url"),
        (b"{}", "url"),
        (b'{"url":"http://a.test/","events":["payment.refunded.nope"]}', "events"),
        (b'{"url":"http://a.test/","events":[]}', "events"),
        (b'{"url":"http://a.test/","events":"*"}', "events"),
        (b'{"url":"http://a.test/","scheme":"hmac"}', "scheme"),
        (b'{"url":"http://a.test/","description":7}', "description"),
        (b'{"url":"http://a.test/","secret":"mine"}', "secret"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field(
    client: Client, body: bytes, field: str
) -> None:
    response = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=body)
    assert response.status_code == 400, response.text
    assert problem_slug(response) == "validation-error"
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_400_does_not_use_up_the_key(client: Client) -> None:
    bad = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=b'{"url":"x"}')
    assert bad.status_code == 400
    assert (await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=SHOP)).is_success


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post(ROUTE, headers={"Idempotency-Key": "k"}, content=b"{nope")
    assert response.status_code == 400
    assert problem_slug(response) == "validation-error"


async def test_duplicate_event_types_are_kept_once(client: Client) -> None:
    body = b'{"url":"http://a.test/","events":["payment.failed","payment.failed"]}'
    assert (await register(client, body))["events"] == ["payment.failed"]


async def test_delete_removes_the_endpoint_then_it_is_404(client: Client) -> None:
    created = await register(client)
    deleted = await client.delete(f"{ROUTE}/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "deleted": True}
    assert (await client.get(f"{ROUTE}/{created['id']}")).status_code == 404
    again = await client.delete(f"{ROUTE}/{created['id']}")
    assert again.status_code == 404
    assert problem_slug(again) == "not-found"


async def test_built_in_endpoint_cannot_be_deleted_or_rotated(client: Client) -> None:
    deleted = await client.delete(f"{ROUTE}/we_default")
    assert deleted.status_code == 409
    assert problem_slug(deleted) == "endpoint-built-in"
    rotated = await client.post(
        f"{ROUTE}/we_default/rotate-secret", headers={"Idempotency-Key": "r"}
    )
    assert rotated.status_code == 409
    assert problem_slug(rotated) == "endpoint-built-in"


async def test_rotate_returns_a_new_secret_and_the_grace_deadline(
    client: Client, clock: FakeClock
) -> None:
    created = await register(client)
    clock.advance(hours=1)
    url = f"{ROUTE}/{created['id']}/rotate-secret"
    rotated = await client.post(url, headers={"Idempotency-Key": "r"})
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    assert body["previousSecretExpiresAt"] == "2036-11-23T21:47:01.123Z"  # now + 24 h
    replay = await client.post(url, headers={"Idempotency-Key": "r"})
    assert replay.content == rotated.content
    assert replay.headers["idempotent-replayed"] == "true"
    shown = (await client.get(f"{ROUTE}/{created['id']}")).json()
    assert shown["previousSecretExpiresAt"] == body["previousSecretExpiresAt"]
    clock.advance(hours=24)
    assert (await client.get(f"{ROUTE}/{created['id']}")).json()["previousSecretExpiresAt"] is None


async def test_rotate_problems(client: Client) -> None:
    created = await register(client)
    url = f"{ROUTE}/{created['id']}/rotate-secret"
    assert problem_slug(await client.post(url)) == "idempotency-key-missing"
    with_body = await client.post(url, headers={"Idempotency-Key": "r"}, content=b'{"x":1}')
    assert with_body.status_code == 400
    assert problem_slug(with_body) == "validation-error"
    empty_object = await client.post(url, headers={"Idempotency-Key": "r"}, content=b"{}")
    assert empty_object.status_code == 200
    missing = await client.post(f"{ROUTE}/we_nope/rotate-secret", headers={"Idempotency-Key": "m"})
    assert missing.status_code == 404
    assert problem_slug(missing) == "not-found"


async def test_registering_past_the_cap_is_409(mock_db: Any, clock: FakeClock) -> None:
    settings = make_settings(webhooks__max_endpoints=1)
    async with app_client(mock_db, clock=clock, settings=settings) as client:
        await register(client, key="a")
        refused = await client.post(ROUTE, headers={"Idempotency-Key": "b"}, content=SHOP)
        assert refused.status_code == 409
        assert problem_slug(refused) == "endpoint-limit-reached"


async def test_unknown_endpoint_is_404_everywhere(client: Client) -> None:
    for path in [f"{ROUTE}/we_nope", f"{ROUTE}/we_nope/deliveries"]:
        response = await client.get(path)
        assert response.status_code == 404
        assert problem_slug(response) == "not-found"


async def test_paths_match_case_insensitively(client: Client) -> None:
    response = await client.post(
        "/api/Webhook-Endpoints", headers={"Idempotency-Key": "k"}, content=SHOP
    )
    assert response.status_code == 201


async def test_endpoints_appear_in_swagger_with_examples(client: Client) -> None:
    spec = (await client.get("/swagger/openapi.json")).json()
    create = spec["paths"][ROUTE]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert create["responses"]["201"]["content"]["application/json"]["examples"]
    assert {"400", "409", "413", "422"} <= set(create["responses"])
    assert create["parameters"][0]["name"] == "Idempotency-Key"
    rotate = spec["paths"][f"{ROUTE}/{{endpoint_id}}/rotate-secret"]["post"]
    assert rotate["responses"]["200"]["content"]["application/json"]["examples"]
    assert "delete" in spec["paths"][f"{ROUTE}/{{endpoint_id}}"]
    problem = (await client.get("/problems/endpoint-built-in")).text
    assert "built-in" in problem
