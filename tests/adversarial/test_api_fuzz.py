"""Every operation of `/swagger/openapi.json`, fuzzed by schemathesis against the ASGI app.

Positive and negative data for each operation, plus header mutations on top, sent
in-process to one payflow on mongomock (worker off, so runs are deterministic) that
every operation shares: what one creates, the others read back. Each response
must be no 5xx, documented (status, content type, headers, body schema), and every
error an RFC 9457 problem. Invalid data must be rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from litestar.serialization import encode_json
from mongomock_motor import AsyncMongoMockClient
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payflow.app import create_app
from payflow.domain.money import CURRENCY_EXPONENTS
from payflow.lifespan import Overrides
from tests.adversarial.harness import BASE_URL, SyncClient, running_app
from tests.adversarial.scale import count, fuzz_settings, soaked
from tests.support import make_settings, order_body

EXAMPLES = 40  # per (operation, mode) pair: about 60 pairs, 2,400 requests in CI

SEEDED_ORDERS = [
    ("ORD-1", "149.99", "USD"),
    ("ORD-2", "0.01", "EUR"),
    ("JP-1", "1500", "JPY"),
    ("KW-1", "1.234", "KWD"),
    ("0", "1", "USD"),
]


def openapi_document() -> dict[str, Any]:
    """The document payflow serves, built without starting the app."""
    app = create_app(make_settings(), Overrides(database=object(), run_worker=False))
    # As served: Litestar's encoder turns example objects (Structs, Decimals) into JSON.
    document: dict[str, Any] = json.loads(encode_json(app.openapi_schema.to_schema()))
    return document


DOCUMENT = openapi_document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {
    result.ok().label: result.ok()
    for result in SCHEMA.get_all_operations()
    if isinstance(result, Ok)
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[SyncClient]:
    """One payflow for the whole module, so what one operation creates the others read."""
    database: Any = AsyncMongoMockClient(tz_aware=True)["payflow"]
    # Fault rules off: the fuzzer may create a rule (the documented examples include an
    # outage), and every later operation would then answer that fault, not its own.
    with running_app(database, settings=make_settings(faults__enabled=False)) as client:
        for number, amount, currency in SEEDED_ORDERS:
            response = client.post(
                "/api/orders",
                headers={"Idempotency-Key": f"seed-{number}"},
                content=order_body(number, amount, currency=currency),
            )
            assert response.status_code == 201, response.text
        yield client


# Header mutations layered over whatever schemathesis generated: (name, value) pairs,
# sent as a list so a name may appear twice.
HEADER_NAMES = [
    "Content-Type",
    "Accept",
    "Idempotency-Key",
    "X-Signature",
    "Stripe-Signature",
    "webhook-signature",
    "webhook-id",
    "webhook-timestamp",
    "Authorization",
    "X-Forwarded-For",
    "Cookie",
    "X-Payflow-Anything",
]
# No leading whitespace: servers strip it, and schemathesis' request model refuses it.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=64).map(
    str.lstrip
)
header_value = st.one_of(
    header_text,
    st.sampled_from(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin-1",
            "multipart/form-data; boundary=x",
            "application/problem+json",
            "*/*;q=0",
            '{"$gt":""}',
            "../../etc/passwd",
            "t=,v1=",
        ]
    ),
    st.integers(1, 16).map(lambda kib: "a" * (kib * 1024)),
)
header_mutations = st.lists(
    st.tuples(st.sampled_from(HEADER_NAMES), header_value), min_size=1, max_size=3
)


def exact_amount(case: Case[Any]) -> None:
    """Most generated amounts have too many digits; round some so orders get created."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("amount"), float | int):
        currency = body.get("currency", "USD")
        digits = CURRENCY_EXPONENTS.get(currency, 2) if isinstance(currency, str) else 2
        amount = round(Decimal(str(body["amount"])), digits)
        if amount > 0:
            body["amount"] = float(amount) if digits else int(amount)


def request_args(case: Case[Any], extra_headers: list[tuple[str, str]]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = list(kwargs.get("headers", {}).items())
    names = {name.lower() for name, _ in extra_headers}
    headers = [(k, v) for k, v in headers if k.lower() not in names] + extra_headers
    args: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        args["content"] = json.dumps(kwargs["json"]).encode()
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        args["content"] = data.encode() if isinstance(data, str) else data
    return args


def assert_problem(response: httpx.Response) -> None:
    """Every error is application/problem+json with type, title and status (DESIGN §1.2)."""
    if response.status_code < 400:
        return
    if response.request.url.path == "/health/ready":
        return  # a readiness report (200 or 503), not an error
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == "application/problem+json", (response.status_code, response.text)
    problem = response.json()
    assert isinstance(problem, dict)
    assert isinstance(problem.get("type"), str)
    assert problem["type"].startswith("/problems/")
    assert isinstance(problem.get("title"), str)
    assert problem.get("status") == response.status_code


def constrained(schema: dict[str, Any]) -> bool:
    """Whether some value of a parameter's type breaks its schema."""
    if any(key in schema for key in ("enum", "pattern", "minLength", "maxLength", "minimum")):
        return True
    if "oneOf" in schema or "anyOf" in schema:
        return any(constrained(s) for s in schema.get("oneOf", schema.get("anyOf", [])))
    if "$ref" in schema:
        return True
    return schema.get("type") not in (None, "string", "null")


def negatable(operation: Any) -> bool:
    """Whether schema-invalid input exists: a body, or a required or constrained parameter."""
    spec = DOCUMENT["paths"][operation.path][operation.method]
    return "requestBody" in spec or any(
        (p.get("required") and p["in"] != "path") or constrained(p.get("schema", {}))
        for p in spec.get("parameters", [])
    )


FUZZ_CASES = [
    (label, mode)
    for label, operation in OPERATIONS.items()
    for mode in ("positive", "negative", "headers")
    if mode != "negative" or negatable(operation)
]


@pytest.mark.parametrize(("label", "mode"), FUZZ_CASES)
@soaked
@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_operation_answers_within_its_documented_contract(
    fuzz_client: SyncClient, label: str, mode: str, data: st.DataObject
) -> None:
    """positive: valid data; negative: invalid data; headers: valid data, mutated headers."""
    operation = OPERATIONS[label]
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    case = data.draw(operation.as_strategy(generation_mode=generation), label="case")
    if generation is GenerationMode.POSITIVE:
        if data.draw(st.booleans(), label="exact amount"):
            exact_amount(case)
        if "order_number" in case.path_parameters and data.draw(st.booleans(), label="known"):
            known = [number for number, _, _ in SEEDED_ORDERS]
            case.path_parameters["order_number"] = data.draw(st.sampled_from(known))
    extra = data.draw(header_mutations, label="extra headers") if mode == "headers" else []
    response = fuzz_client.request(**request_args(case, extra))
    worker_off = label == "GET /health/ready" and response.status_code == 503
    if worker_off:
        # The fuzzed app runs no worker, so readiness truthfully reports 503 (documented).
        assert response.json() == {"status": "unavailable", "database": "ok", "worker": "stopped"}
    count("api_fuzz", examples=1, **{"5xx": int(response.status_code >= 500 and not worker_off)})
    assert_problem(response)
    # With mutated headers the request may break the schema in ways it cannot describe
    # (a text/plain body, a duplicated key): then only "no 5xx, documented status" holds.
    checks = CHECKS if not extra else [not_a_server_error, status_code_conformance]
    validate(case, response, [c for c in checks if not (worker_off and c is not_a_server_error)])


def validate(case: Case[Any], response: httpx.Response, checks: list[Any]) -> None:
    # schemathesis raises a BaseExceptionGroup, which would also stop the anyio test runner.
    try:
        case.validate_response(response, checks=checks)
    except BaseExceptionGroup as failures:
        raise AssertionError(str(failures)) from None


def without_examples(value: Any) -> Any:
    """Litestar fills `examples` with random values: everything else must be identical."""
    if isinstance(value, dict):
        return {
            k: without_examples(v) for k, v in value.items() if k not in ("examples", "example")
        }
    if isinstance(value, list):
        return [without_examples(item) for item in value]
    return value


def test_served_document_is_the_fuzzed_one(fuzz_client: SyncClient) -> None:
    response = fuzz_client.get("/swagger/openapi.json")
    assert response.status_code == 200
    served = without_examples(response.json())
    assert served == without_examples(DOCUMENT)


# --- regressions: where the schema lied ---------------------------------------------------------


def test_every_documented_error_is_a_problem() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and (path, status) != ("/health/ready", "503"):
                    content = response.get("content", {})
                    assert list(content) == ["application/problem+json"], (method, path, status)
                    schema = content["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}


def test_the_create_order_body_and_its_required_key_are_documented() -> None:
    create = DOCUMENT["paths"]["/api/orders"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["orderNumber", "amount"]
    assert body["additionalProperties"] is False
    assert body["properties"]["amount"]["type"] == "number"
    assert "USD" in body["properties"]["currency"]["enum"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
    assert create["responses"]["201"]["headers"]["Location"]["required"] is True


def test_amounts_are_documented_as_json_numbers() -> None:
    order = DOCUMENT["components"]["schemas"]["OrderOut"]
    assert order["properties"]["amount"] == {"type": "number"}


def test_metrics_content_type_names_its_charset_once(fuzz_client: SyncClient) -> None:
    content_type = fuzz_client.get("/metrics").headers["content-type"]
    assert content_type.startswith("text/plain")
    assert content_type.count("charset") == 1
