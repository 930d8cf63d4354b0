"""Hostile input through the HTTP app: every answer is a clear 4xx problem, never a 5xx.

Body limits on every POST route (declared and chunked), deep nesting, long headers,
invalid UTF-8, duplicate keys, 10,000-digit and out-of-range numbers, lying
Content-Types, path traversal, and MongoDB operators in every string field and query
parameter. Where payflow made a choice (duplicate keys, Content-Type), the test pins
it and docs/decisions.md says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from payflow import idempotency
from payflow.api.body import decode_json_object
from payflow.api.orders.schemas import parse_create_order
from payflow.errors import ValidationFailed
from tests.adversarial.scale import count, fuzz_settings, soaked
from tests.support import order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
SUITE = "input_hardening"

OPERATOR_VALUES: list[Any] = [
    {"$gt": ""},
    {"$ne": None},
    {"$regex": ".*"},
    {"$where": "sleep(1000)"},
    ["$in", "x"],
    "$where",
    "$gt",
    "'; return true; var x='",
    "ORD-1' || '1'=='1",
]
OPERATOR_QUERY_SUFFIXES = ["[$ne]=x", "[$gt]=", "=%7B%22%24gt%22%3A%22%22%7D", "=$ne", "[]=a"]


def key(name: str, **headers: str) -> dict[str, str]:
    visible = "".join(ch if "!" <= ch <= "~" else "-" for ch in name) or "-"
    return {"Idempotency-Key": visible, "Content-Type": "application/json", **headers}


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    assert problem["type"].startswith("/problems/")
    assert problem["title"]
    return problem


async def openapi(client: Client) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/swagger/openapi.json")).json()
    return document


def operations(document: dict[str, Any], method: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        if method in item:
            yield path, item[method]


def concrete(path: str) -> str:
    """A template path with every parameter filled in."""
    parts = [("ORD-1" if p.startswith("{") else p) for p in path.split("/")]
    return "/".join(parts)


async def create_order(client: Client, number: str = "ORD-1") -> httpx.Response:
    response = await client.post(
        "/api/orders", headers=key(f"create-{number}"), content=order_body(number)
    )
    assert response.status_code == 201, response.text
    return response


async def raw_asgi(
    client: Client, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """Send a request straight to the ASGI app: a chunked body, no Content-Length."""
    pending = list(chunks)
    status = 0
    response_headers: dict[str, str] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update(
                {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            )
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver.local"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    await client.app(scope, receive, send)
    return status, response_headers, bytes(body)


# --- body limits ------------------------------------------------------------------------------


async def test_every_post_route_with_a_body_answers_413_over_the_limit(client: Client) -> None:
    await create_order(client)
    limit = client.app_runtime.settings.server.max_body_bytes  # type: ignore[attr-defined]
    document = await openapi(client)
    posts = list(operations(document, "post"))
    assert len(posts) >= 2
    for index, (path, operation) in enumerate(posts):
        response = await client.post(
            concrete(path), headers=key(f"big-{index}"), content=b"{" + b" " * limit + b"}"
        )
        if "requestBody" in operation:
            problem = assert_problem(response, 413)
            assert problem["type"] == "/problems/payload-too-large"
        else:  # a route without a body never reads (or buffers) one
            count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
            assert response.status_code < 500, (path, response.text)


async def test_a_chunked_body_over_the_limit_is_413_too(client: Client) -> None:
    limit = client.app_runtime.settings.server.max_body_bytes  # type: ignore[attr-defined]
    document = await openapi(client)
    for index, (path, operation) in enumerate(operations(document, "post")):
        if "requestBody" not in operation:
            continue
        chunks = [b" " * (limit // 4)] * 5  # 1.25 x the limit, never announced
        headers = [(b"idempotency-key", f"chunk-{index}".encode())]
        status, response_headers, body = await raw_asgi(
            client, "POST", concrete(path), headers, chunks
        )
        count(SUITE, examples=1, **{"5xx": int(status >= 500)})
        assert status == 413, (path, body)
        assert response_headers["content-type"] == "application/problem+json"
        assert json.loads(body)["type"] == "/problems/payload-too-large"


async def test_the_webhook_receiver_limit_is_256_kib(client: Client) -> None:
    response = await client.post(
        "/api/webhooks/payments",
        headers={"X-Signature": "t=1,v1=" + "0" * 64},
        content=b" " * (256 * 1024 + 1),
    )
    assert_problem(response, 413)


# --- malformed bodies -------------------------------------------------------------------------

MALFORMED_BODIES = {
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
    "invalid UTF-8 in a string": b'{"orderNumber":"\xff\xfe","amount":1}',
    "a lone surrogate in UTF-8": b'{"orderNumber":"A","amount":1,"metadata":{"k":"\xed\xa0\x80"}}',
    "a 10,000-digit integer": b'{"orderNumber":"A","amount":' + b"1" * 10_000 + b"}",
    "an exponent Decimal cannot hold": b'{"orderNumber":"A","amount":1e-99999999999999999999}',
    "NaN": b'{"orderNumber":"A","amount":NaN}',
    "Infinity": b'{"orderNumber":"A","amount":Infinity}',
    "trailing garbage": b'{"orderNumber":"A","amount":1}xyz',
    "a JSON array": b'[{"orderNumber":"A","amount":1}]',
    "a bare string": b'"hello"',
    "empty": b"",
    "a byte-order mark": b'\xef\xbb\xbf{"orderNumber":"A","amount":1}',
    "a NUL": b'{"orderNumber":"A\x00","amount":1}',
}


@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
async def test_a_malformed_create_body_is_a_400_problem(client: Client, name: str) -> None:
    response = await client.post("/api/orders", headers=key(name), content=MALFORMED_BODIES[name])
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/validation-error"


@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
async def test_a_malformed_but_signed_webhook_body_is_a_400_problem(
    client: Client, name: str
) -> None:
    from payflow import signing

    runtime: Any = client.app_runtime  # type: ignore[attr-defined]
    body = MALFORMED_BODIES[name]
    headers = signing.sign(
        signing.Scheme.PAYFLOW,
        body,
        runtime.settings.webhook_secrets,
        int(runtime.clock().timestamp()),
    )
    response = await client.post("/api/webhooks/payments", headers=headers, content=body)
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("1" * 10_000, 400),  # a number is too large
        ("0." + "1" * 10_000, 400),  # too many decimal places
        ("1" + "0" * 10_000 + ".5", 400),  # too large, as a decimal
        ("1e999999999", 400),
        ("1e-999999999", 400),
    ],
)
async def test_numbers_with_ten_thousand_digits_are_400(
    client: Client, digits: str, expected: int
) -> None:
    body = ('{"orderNumber":"A","amount":%s}' % digits).encode()  # noqa: UP031
    assert_problem(await client.post("/api/orders", headers=key("digits"), content=body), expected)


async def test_duplicate_json_keys_the_last_one_wins(client: Client) -> None:
    """msgspec keeps the last value of a repeated key (docs/decisions.md)."""
    body = b'{"orderNumber":"FIRST","orderNumber":"LAST","amount":1,"amount":2}'
    response = await client.post("/api/orders", headers=key("dup"), content=body)
    assert response.status_code == 201, response.text
    assert response.json()["orderNumber"] == "LAST"
    assert b'"amount":2.00' in response.content
    # The fingerprint is of what ran: the same request spelled without duplicates replays.
    again = await client.post(
        "/api/orders", headers=key("dup"), content=b'{"orderNumber":"LAST","amount":2}'
    )
    assert again.headers["idempotent-replayed"] == "true"


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [256, 8 * 1024, 64 * 1024])
async def test_an_oversized_idempotency_key_is_400_invalid(client: Client, size: int) -> None:
    response = await client.post(
        "/api/orders", headers=key("k" * size), content=order_body("LONG-KEY")
    )
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/idempotency-key-invalid"


@pytest.mark.parametrize(
    "name", ["Content-Type", "Accept", "X-Signature", "User-Agent", "X-Anything", "Cookie"]
)
async def test_very_long_header_values_are_never_a_5xx(client: Client, name: str) -> None:
    long_value = "a" * (64 * 1024)
    for path in ("/api/orders", "/api/webhooks/payments"):
        response = await client.post(
            path, headers={**key(f"long-{name}-{path}"), name: long_value}, content=order_body()
        )
        count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
        assert response.status_code < 500, response.text
    response = await client.get("/api/orders", headers={name: long_value})
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "garbage/;;"],
)
async def test_a_json_body_under_another_content_type_is_read_as_json(
    client: Client, content_type: str
) -> None:
    """Content-Type is not enforced (curl -d sends form-urlencoded): docs/decisions.md."""
    response = await client.post(
        "/api/orders",
        headers=key(f"ct-{content_type}", **{"Content-Type": content_type}),
        content=order_body(f"CT-{len(content_type)}"),
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body", [b"orderNumber=A&amount=1", b"garbage", b"<xml/>", b"\x00\x01\x02", b"--x\r\n\r\n--x--"]
)
async def test_a_non_json_body_under_a_json_content_type_is_400(
    client: Client, body: bytes
) -> None:
    response = await client.post("/api/orders", headers=key("garbage"), content=body)
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/validation-error"


# --- paths ------------------------------------------------------------------------------------

TRAVERSALS = [
    "/api/orders/..%2F..%2Fetc",
    "/api/orders/..%2F..%2Fetc%2Fpasswd",
    "/api/orders/%2e%2e/%2e%2e/etc/passwd",
    "/api/orders/..%252F..%252Fetc",
    "/api/orders/%00",
    "/api/orders/%0d%0aSet-Cookie:%20x=1",
    "/api/orders/ORD-1%2F..%2F..%2Fhealth%2Flive",
    "/api/orders/ORD-1/events/../../../etc/passwd",
    "/problems/..%2F..%2Fetc%2Fpasswd",
    "/problems/%2e%2e",
    "/swagger/..%2F..%2Fetc%2Fpasswd",
    "/swagger/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "//api//orders//",
    "/api/orders/" + "x" * 10_000,
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_path_traversal_in_path_parameters_is_a_404_problem(
    client: Client, path: str
) -> None:
    await create_order(client)
    response = await client.get(path)
    count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
    if response.status_code == 200:  # only ever our own resources, never a file
        assert "root:" not in response.text
        assert response.headers["content-type"].startswith(("application/json", "text/plain"))
        return
    assert_problem(response, 404)
    assert "set-cookie" not in response.headers


async def test_an_unknown_problem_type_uri_is_a_404_problem(client: Client) -> None:
    known = await client.get("/problems/validation-error")
    assert known.status_code == 200
    assert known.headers["content-type"].startswith("text/plain")
    problem = assert_problem(await client.get("/problems/no-such-thing"), 404)
    assert problem["type"] == "/problems/not-found"


async def test_an_order_number_is_data_even_when_it_looks_like_a_path(client: Client) -> None:
    await create_order(client)
    for number in ["..", ".", "ORD-1/..", "../ORD-1", "ORD-1/../ORD-1"]:
        # Raw, so no client resolves the dot segments before payflow sees them.
        path = "/api/orders/" + quote(number, safe="")
        status, headers, body = await raw_asgi(client, "GET", path, [], [b""])
        count(SUITE, examples=1, **{"5xx": int(status >= 500)})
        assert status == 404, (number, body)
        assert headers["content-type"] == "application/problem+json"


# --- MongoDB operator injection -----------------------------------------------------------------

CREATE_FIELDS = ["orderNumber", "currency", "paymentMethod", "metadata-key", "metadata-value"]


@pytest.mark.parametrize("field", CREATE_FIELDS)
@pytest.mark.parametrize("index", range(len(OPERATOR_VALUES)))
async def test_operators_in_any_create_field_are_plain_data_or_400(
    client: Client, field: str, index: int
) -> None:
    injected = OPERATOR_VALUES[index]
    body: dict[str, Any] = {"orderNumber": f"INJ-{index}", "amount": 1}
    if field == "metadata-key":
        body["metadata"] = (
            {json.dumps(injected): "v"} if not isinstance(injected, str) else {injected: "v"}
        )
    elif field == "metadata-value":
        body["metadata"] = {"k": injected}
    else:
        body[field] = injected
    response = await client.post(
        "/api/orders", headers=key(f"inj-{field}-{index}"), content=json.dumps(body).encode()
    )
    count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
    if response.status_code == 201:  # stored as plain data, never interpreted
        assert field.startswith("metadata")
        assert response.json()["metadata"] == body["metadata"]
        fetched = await client.get(f"/api/orders/INJ-{index}")
        assert fetched.json()["metadata"] == body["metadata"]
        return
    assert_problem(response, 400)


async def test_operators_in_every_query_parameter_are_plain_data_or_400(client: Client) -> None:
    await create_order(client, "ORD-1")
    await create_order(client, "ORD-2")
    document = await openapi(client)
    baseline: dict[str, bytes] = {}
    for path, operation in operations(document, "get"):
        url = concrete(path)
        clean = await client.get(url)
        baseline[url] = clean.content
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for suffix in OPERATOR_QUERY_SUFFIXES:
                response = await client.get(f"{url}?{parameter['name']}{suffix}")
                count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
                assert response.status_code < 500, (url, parameter["name"], suffix)
                if response.status_code >= 400:
                    assert_problem(response, 400, 404)
                elif suffix.startswith("["):  # `name[$ne]` is another, unknown parameter
                    assert response.status_code == clean.status_code


@pytest.mark.parametrize("index", range(len(OPERATOR_VALUES)))
async def test_an_operator_as_an_order_number_matches_no_order(client: Client, index: int) -> None:
    await create_order(client)
    injected = OPERATOR_VALUES[index]
    text = injected if isinstance(injected, str) else json.dumps(injected)
    for suffix in ("", "/events"):
        response = await client.get(f"/api/orders/{quote(text, safe='')}{suffix}")
        assert_problem(response, 404)


@pytest.mark.parametrize("index", range(len(OPERATOR_VALUES)))
async def test_operators_in_a_signed_webhook_never_move_an_order(
    client: Client, index: int
) -> None:
    from payflow import signing

    await create_order(client)
    runtime: Any = client.app_runtime  # type: ignore[attr-defined]
    injected = OPERATOR_VALUES[index]
    for field in ("orderNumber", "currency", "amount"):
        data: dict[str, Any] = {"orderNumber": "ORD-1", "amount": 149.99, "currency": "USD"}
        data[field] = injected
        body = json.dumps({"type": "payment.succeeded", "data": data}).encode()
        headers = signing.sign(
            signing.Scheme.PAYFLOW,
            body,
            runtime.settings.webhook_secrets,
            int(runtime.clock().timestamp()),
        )
        response = await client.post("/api/webhooks/payments", headers=headers, content=body)
        count(SUITE, examples=1, **{"5xx": int(response.status_code >= 500)})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json()["outcome"] in {"unmatched", "mismatch", "ignored"}
    assert (await client.get("/api/orders/ORD-1")).json()["status"] == "Pending"


# --- the decoder, directly --------------------------------------------------------------------

json_numbers = st.one_of(
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(
        ["1e999999999", "1e-999999999", "1e-99999999999999999999", "-0", "0.0", "1E+2"]
    ),
    st.integers(1, 400).map(lambda n: "9" * n),
)
json_scalars = st.one_of(
    json_numbers,
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(["true", "false", "null", '"\\ud800"', '"\\u0000"']),
)
json_texts = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["orderNumber", "amount", "currency", "paymentMethod", "metadata", "$gt", ""]
                ),
                inner,
            ),
            max_size=5,
        ).map(lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"),
    ),
    max_leaves=12,
)


@soaked
@fuzz_settings(400)
@given(raw=st.one_of(json_texts.map(str.encode), st.binary(max_size=256)))
def test_any_body_decodes_to_an_order_or_a_validation_error(raw: bytes) -> None:
    count(SUITE, examples=1)
    try:
        payload = decode_json_object(raw)
        parse_create_order(payload)
    except ValidationFailed:
        return
    idempotency.fingerprint("POST", "/api/orders", payload)


@soaked
@fuzz_settings(200)
@given(text=json_texts)
def test_the_fingerprint_is_total_for_any_json(text: str) -> None:
    try:
        payload = decode_json_object(text.encode())
    except ValidationFailed:
        return
    assert len(idempotency.fingerprint("POST", "/x", payload)) == 64


def test_the_fingerprint_neither_rounds_nor_overflows() -> None:
    """Numbers are compared by exact value: 28 significant digits is not a limit."""
    a = decode_json_object(b'{"n":1234567890123456789012345678901}')
    b = decode_json_object(b'{"n":1234567890123456789012345678902}')
    assert idempotency.fingerprint("POST", "/x", a) != idempotency.fingerprint("POST", "/x", b)
    huge = decode_json_object(b'{"n":1e999999999}')
    assert len(idempotency.fingerprint("POST", "/x", huge)) == 64
    same = [decode_json_object(t) for t in (b'{"n":75}', b'{"n":75.0}', b'{"n":7.5e1}')]
    assert len({idempotency.fingerprint("POST", "/x", p) for p in same}) == 1
