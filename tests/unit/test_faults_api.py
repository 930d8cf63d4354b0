"""`/api/faults` and the `Payflow-Fault` header through the app (in process, mongomock).

What needs a real connection (reset, timeout) is in tests/e2e/test_faults.py; here a
test client cannot be dropped, so those faults answer a 500 problem that says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.support import FakeClock, app_client, make_settings, order_body, problem_slug

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
ROUTE = "/api/faults"


async def add_rule(client: Client, key: str = "r-1", **rule: Any) -> dict[str, Any]:
    response = await client.post(ROUTE, headers={"Idempotency-Key": key}, json=rule)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_order(client: Client, number: str, key: str, fault: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} | ({"Payflow-Fault": fault} if fault else {})
    return await client.post("/api/orders", headers=headers, content=order_body(number))


# The rules' routes


async def test_create_answers_the_rule_with_its_id_and_location(client: Client) -> None:
    response = await client.post(
        ROUTE,
        headers={"Idempotency-Key": "k"},
        json={"method": "post", "path": "/api/orders", "fault": "After-Commit:Reset", "rate": 0.5},
    )
    assert response.status_code == 201
    rule = response.json()
    assert rule["id"].startswith("flt_")
    assert response.headers["location"] == f"{ROUTE}/{rule['id']}"
    assert {k: v for k, v in rule.items() if k not in ("id", "createdAt")} == {
        "method": "POST",
        "path": "/api/orders",
        "fault": "after-commit:reset",
        "rate": 0.5,
        "count": None,
        "remaining": None,
        "injected": 0,
    }


async def test_create_is_idempotent(client: Client) -> None:
    first = await add_rule(client, "same", path="/api/*", fault="error-500", rate=1)
    again = await client.post(
        ROUTE,
        headers={"Idempotency-Key": "same"},
        json={"path": "/api/*", "fault": "error-500", "rate": 1},
    )
    assert again.json() == first
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(ROUTE)).json()) == 1


async def test_list_is_a_plain_array_oldest_first_and_delete_removes(
    client: Client, clock: FakeClock
) -> None:
    first = await add_rule(client, "a", path="/api/a", fault="error-500", rate=1)
    clock.advance(seconds=1)
    second = await add_rule(client, "b", path="/api/b", fault="slow=5", rate=1, count=2)
    listed = (await client.get(ROUTE)).json()
    assert [r["id"] for r in listed] == [first["id"], second["id"]]
    assert (listed[1]["count"], listed[1]["remaining"]) == (2, 2)
    deleted = await client.delete(f"{ROUTE}/{first['id']}")
    assert deleted.json() == {"id": first["id"], "deleted": True}
    assert [r["id"] for r in (await client.get(ROUTE)).json()] == [second["id"]]
    missing = await client.delete(f"{ROUTE}/{first['id']}")
    assert missing.status_code == 404
    assert problem_slug(missing) == "not-found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "/api/*", "fault": "explode", "rate": 1}, "fault"),
        ({"path": "/api/*", "fault": "after-commit:error-503", "rate": 1}, "fault"),
        ({"path": "/api/*", "fault": "reset", "rate": 1.5}, "rate"),
        ({"path": "/api/*", "fault": "reset", "rate": -0.1}, "rate"),
        ({"path": "/api/*", "fault": "reset", "rate": "1"}, "rate"),
        ({"path": "/api/*", "fault": "reset"}, "rate"),
        ({"path": "api/*", "fault": "reset", "rate": 1}, "path"),
        ({"path": "/api/*", "fault": "reset", "rate": 1, "count": 0}, "count"),
        ({"path": "/api/*", "fault": "reset", "rate": 1, "method": "GE T"}, "method"),
        ({"path": "/api/*", "fault": "reset", "rate": 1, "extra": 1}, "extra"),
    ],
)
async def test_a_rule_that_breaks_the_contract_is_a_400_naming_the_field(
    client: Client, body: dict[str, Any], field: str
) -> None:
    response = await client.post(ROUTE, headers={"Idempotency-Key": "bad"}, json=body)
    assert response.status_code == 400
    assert problem_slug(response) == "validation-error"
    assert field in response.json()["errors"][0]["field"] + response.json()["detail"]


async def test_at_most_a_hundred_rules(client: Client) -> None:
    for n in range(100):
        await add_rule(client, f"k{n}", path=f"/api/x{n}", fault="error-500", rate=0)
    response = await client.post(
        ROUTE,
        headers={"Idempotency-Key": "one-more"},
        json={"path": "/", "fault": "reset", "rate": 0},
    )
    assert response.status_code == 409
    assert problem_slug(response) == "fault-rule-limit-reached"


# The header and the rules, applied


async def test_error_faults_answer_problems_without_running_the_request(client: Client) -> None:
    failed = await create_order(client, "F-1", "k1", "error-500")
    assert failed.status_code == 500
    assert problem_slug(failed) == "fault-injected"
    unavailable = await create_order(client, "F-1", "k1", "error-503")
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "1"
    assert (await client.get("/api/orders/F-1")).status_code == 404
    created = await create_order(client, "F-1", "k1")
    assert created.status_code == 201
    assert "idempotent-replayed" not in created.headers


async def test_after_commit_error_keeps_the_effect_and_the_retry_replays(client: Client) -> None:
    lost = await create_order(client, "F-2", "k2", "after-commit:error-500")
    assert lost.status_code == 500
    assert problem_slug(lost) == "fault-injected"
    assert (await client.get("/api/orders/F-2")).status_code == 200
    retried = await create_order(client, "F-2", "k2")
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"


async def test_without_a_server_connection_reset_answers_a_problem_instead(client: Client) -> None:
    response = await create_order(client, "F-3", "k3", "reset")
    assert response.status_code == 500
    assert "cannot drop a connection" in response.json()["detail"]


async def test_an_unknown_fault_is_a_400_and_nothing_runs(client: Client) -> None:
    response = await create_order(client, "F-4", "k4", "error-418")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Payflow-Fault"
    assert (await client.get("/api/orders/F-4")).status_code == 404


async def test_routes_outside_the_api_ignore_the_header(client: Client) -> None:
    response = await client.get("/health/live", headers={"Payflow-Fault": "error-500"})
    assert response.status_code == 200


async def test_a_rule_fires_and_is_counted_in_metrics_and_on_the_rule(client: Client) -> None:
    rule = await add_rule(
        client, path="/api/orders", method="POST", fault="error-503", rate=1, count=1
    )
    assert (await create_order(client, "F-5", "k5")).status_code == 503
    assert (await create_order(client, "F-5", "k5")).status_code == 201  # count spent
    listed = (await client.get(ROUTE)).json()
    assert [(r["id"], r["remaining"], r["injected"]) for r in listed] == [(rule["id"], 0, 1)]
    metrics = (await client.get("/metrics")).text
    assert 'payflow_faults_injected_total{fault="error-503"} 1.0' in metrics


async def test_the_header_overrides_the_rules(client: Client) -> None:
    await add_rule(client, path="/api/orders", fault="error-503", rate=1)
    response = await create_order(client, "F-6", "k6", "slow=1")
    assert response.status_code == 201


async def test_with_faults_off_the_header_and_the_rules_are_ignored(mock_db: Any) -> None:
    settings = make_settings(faults__enabled=False)
    async with app_client(mock_db, settings=settings) as client:
        await add_rule(client, path="/api/*", fault="error-500", rate=1)
        assert (await create_order(client, "F-7", "k7", "reset")).status_code == 201
        assert (await client.get("/api/orders")).status_code == 200


async def test_a_page_in_the_browser_may_send_the_header(client: Client) -> None:
    response = await client.options(
        "/api/orders",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "payflow-fault, idempotency-key",
        },
    )
    assert response.status_code == 204
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "payflow-fault" in allowed


async def test_openapi_documents_the_rules_routes_like_every_idempotent_post(
    client: Client,
) -> None:
    spec = (await client.get("/swagger/openapi.json")).json()
    create = spec["paths"][ROUTE]["post"]
    body = create["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == {"lost_answers", "outage"}
    assert body["schema"]["required"] == ["path", "fault", "rate"]
    assert create["parameters"][0]["name"] == "Idempotency-Key"
    assert create["parameters"][0]["required"] is True
    created = create["responses"]["201"]
    assert {"Location", "Idempotent-Replayed"} <= set(created["headers"])
    assert created["content"]["application/json"]["examples"]
    assert {"400", "409", "413", "422"} <= set(create["responses"])
    assert "fault-rule-limit-reached" in create["responses"]["409"]["description"]
    assert "get" in spec["paths"][ROUTE]
    assert "404" in spec["paths"][f"{ROUTE}/{{rule_id}}"]["delete"]["responses"]
