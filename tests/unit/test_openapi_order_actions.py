"""Cancel and refunds are in Swagger like every POST: the key, the body, examples, problems."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
ORDER = "/api/orders/{order_number}"


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/swagger/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize(
    ("path", "success"), [(f"{ORDER}/cancel", "200"), (f"{ORDER}/refunds", "201")]
)
async def test_each_action_documents_its_key_body_examples_and_problems(
    document: dict[str, Any], path: str, success: str
) -> None:
    operation = document["paths"][path]["post"]
    [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["required"] is True
    body = operation["requestBody"]
    assert body["required"] is False  # no body is a valid request
    assert body["content"]["application/json"]["examples"]
    answer = operation["responses"][success]
    assert answer["content"]["application/json"]["examples"]
    assert "Idempotent-Replayed" in answer["headers"]
    for status in ("400", "404", "409", "413", "422"):
        problem = operation["responses"][status]["content"]
        assert "application/problem+json" in problem, status
    assert "Retry-After" in operation["responses"]["409"]["headers"]


async def test_a_refund_documents_its_exact_amount_and_location(document: dict[str, Any]) -> None:
    operation = document["paths"][f"{ORDER}/refunds"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["amount"]["type"] == "number"
    assert schema["additionalProperties"] is False
    assert operation["responses"]["201"]["headers"]["Location"]["required"] is True
    for path in (f"{ORDER}/refunds", f"{ORDER}/refunds/{{refund_id}}"):
        examples = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert examples["application/json"]["examples"], path


async def test_orders_document_the_new_fields_and_statuses(document: dict[str, Any]) -> None:
    create = document["paths"]["/api/orders"]["post"]["requestBody"]["content"]
    delay = create["application/json"]["schema"]["properties"]["processingDelayMs"]
    assert "600000" in str(delay)
    order = document["components"]["schemas"]["OrderOut"]
    assert {"amountRefunded", "canceledAt"} <= set(order["required"])
    assert "PartiallyRefunded" in document["components"]["schemas"]["OrderStatus"]["enum"]
    method = create["application/json"]["schema"]["properties"]["paymentMethod"]
    methods = method["anyOf"][0]["enum"]
    assert "4000000000009995" in methods
    assert "balance" in methods
    assert method["anyOf"][1]["pattern"] == "^pm_[0-9a-f]{24}$"
    assert "Authorized" in document["components"]["schemas"]["OrderStatus"]["enum"]
