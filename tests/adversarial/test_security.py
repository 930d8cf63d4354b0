"""Security properties that can be tests: no secret leaks, the default-secret warning,
constant-time comparison wherever a secret-derived value is compared."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
import pytest

from payflow import signing
from payflow.api import access
from payflow.config import DEFAULT_SECRET
from payflow.lifespan import _warn_about_default_secret
from payflow.logs import redact
from tests.adversarial.scale import count
from tests.support import FakeClock, app_client, make_settings, order_body
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

CURRENT = "whsec_CANARYcurrent0f3a9d"
PREVIOUS = "whsec_CANARYprevious77c1"
API_KEY = "sk_test_CANARYkey5b2e81"
CANARIES = [CURRENT, PREVIOUS, API_KEY, "CANARY"]
SUITE = "security"
REAL_COMPARE = hmac.compare_digest


def leaks(text: str, extra: list[str]) -> list[str]:
    return [c for c in [*CANARIES, *extra] if c in text]


def transcript(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


async def settled(client: Any, url: str, headers: dict[str, str]) -> None:
    """Wait until the worker moves the order on (it is due at once)."""

    async def moved_on() -> bool:
        return bool((await client.get(url, headers=headers)).json()["status"] != "Pending")

    await eventually(moved_on, f"{url} to leave Pending", within=10)


def concrete(path: str, number: str) -> str:
    return "/".join(number if p.startswith("{") else p for p in path.split("/"))


async def test_secrets_never_appear_in_logs_responses_or_error_details(
    mock_db: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(
        webhooks__secret=CURRENT,
        webhooks__previous_secrets=[PREVIOUS],
        auth__api_keys=[API_KEY],
        log__level="DEBUG",
    )
    clock = FakeClock()
    now = int(clock.now.timestamp())
    auth = {"Authorization": f"Bearer {API_KEY}"}
    seen: list[httpx.Response] = []
    # Signatures a forger would need: they must not be echoed either.
    forged_body = b'{"type":"payment.succeeded","data":{"orderNumber":"SEC-9","amount":149.99}}'
    expected = [
        hmac.new(secret.encode(), f"t={now}.".encode() + forged_body, hashlib.sha256).hexdigest()
        for secret in (CURRENT, PREVIOUS)
    ]
    async with app_client(mock_db, clock=clock, settings=settings, run_worker=True) as client:

        async def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, url, **kwargs)
            seen.append(response)
            assert response.status_code < 500, response.text
            return response

        create = {**auth, "Idempotency-Key": "sec-1"}
        first = await send("POST", "/api/orders", headers=create, content=order_body("SEC-1"))
        assert first.status_code == 201
        await send("POST", "/api/orders", headers=create, content=order_body("SEC-1"))
        await send("POST", "/api/orders", headers=create, content=order_body("SEC-2"))
        near_miss = {"Authorization": f"Bearer {API_KEY[:-1]}x", "Idempotency-Key": "sec-2"}
        denied = await send("POST", "/api/orders", headers=near_miss, content=order_body())
        assert denied.status_code == 401
        await send("GET", "/api/orders", headers={"Authorization": "Bearer " + CURRENT})
        for header in (
            {"X-Signature": f"t={now},v1={'0' * 64}"},
            {"X-Signature": f"t={now},v1={expected[0][:-1]}0"},
            {"Stripe-Signature": f"t={now},v1={'a' * 64}"},
            {"X-Signature": f"t={now - 10_000},v1={expected[0]}"},
            {},
        ):
            rejected = await send(
                "POST", "/api/webhooks/payments", headers=header, content=forged_body
            )
            assert rejected.status_code == 401
        signed = signing.sign(signing.Scheme.PAYFLOW, forged_body, [PREVIOUS], now)
        await send("POST", "/api/webhooks/payments", headers=signed, content=forged_body)
        # The worker signs the real payment webhook with the current secret and delivers it.
        await settled(client, "/api/orders/SEC-1", auth)
        document = (await send("GET", "/swagger/openapi.json")).json()
        for path, item in document["paths"].items():
            if "get" in item:
                await send("GET", concrete(path, "SEC-1"), headers=auth)
        await send("GET", "/metrics")
    logs = capsys.readouterr()
    records = "\n".join(record.getMessage() for record in caplog.records)
    count(SUITE, examples=len(seen))
    for response in seen:
        assert not leaks(transcript(response), expected), transcript(response)
    assert not leaks(logs.out + logs.err + records, expected)
    assert "webhook_received" in logs.err or "webhook" in logs.err  # the logs were captured


@pytest.mark.parametrize(
    ("host", "secret", "warned"),
    [
        ("0.0.0.0", DEFAULT_SECRET, True),  # noqa: S104 - the case under test
        ("::", DEFAULT_SECRET, True),
        ("192.168.1.20", DEFAULT_SECRET, True),
        ("127.0.0.1", DEFAULT_SECRET, False),
        ("localhost", DEFAULT_SECRET, False),
        ("::1", DEFAULT_SECRET, False),
        ("0.0.0.0", "whsec_not_the_default", False),  # noqa: S104
    ],
)
async def test_the_default_secret_warning_is_printed_when_bound_off_loopback(
    mock_db: Any, capsys: pytest.CaptureFixture[str], host: str, secret: str, warned: bool
) -> None:
    settings = make_settings(server__host=host, webhooks__secret=secret)
    async with app_client(mock_db, settings=settings):
        pass
    err = capsys.readouterr().err
    assert ("WARNING: the webhook secret is the public default" in err) is warned
    if warned:
        assert host in err
        assert "PAYFLOW_WEBHOOKS__SECRET" in err


def test_the_warning_also_fires_for_a_default_previous_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(
        server__host="0.0.0.0",  # noqa: S104
        webhooks__secret="whsec_new",
        webhooks__previous_secrets=[DEFAULT_SECRET],
    )
    _warn_about_default_secret(settings)
    assert "public default" in capsys.readouterr().err


class CompareSpy:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((bytes(a), bytes(b)))
        return REAL_COMPARE(a, b)


@pytest.mark.parametrize("scheme", list(signing.Scheme))
def test_signatures_are_compared_with_hmac_compare_digest(
    monkeypatch: pytest.MonkeyPatch, scheme: signing.Scheme
) -> None:
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)  # what signing calls
    secrets = ["whsec_" + "QUJD" * 8, "whsec_" + "REVG" * 8]
    body, now = b'{"id":"evt_1"}', 1_900_000_000
    headers = signing.sign(scheme, body, secrets[1:], now, "msg_1")
    assert signing.verify(scheme, body, headers, secrets, now) == now
    assert spy.calls, "a valid signature was accepted without compare_digest"
    genuine = {call[1] for call in spy.calls}
    spy.calls.clear()
    with pytest.raises(signing.SignatureError):
        signing.verify(scheme, body + b" ", headers, secrets, now)
    # Every presented signature is compared with every active secret's: no early exit.
    assert len(spy.calls) == len(secrets) * len(genuine)
    assert {call[1] for call in spy.calls} == genuine


def test_api_keys_are_compared_in_constant_time_with_every_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)  # what access calls
    keys = ["sk_test_first", "sk_test_second", "sk_test_third"]
    assert access.matching_key("sk_test_first", keys) == "sk_test_first"
    assert len(spy.calls) == len(keys)
    spy.calls.clear()
    assert access.matching_key("sk_test_nope", keys) is None
    assert len(spy.calls) == len(keys)


def test_log_fields_named_after_secrets_are_redacted() -> None:
    event = {"event": "x", "secret": CURRENT, "X-Signature": "t=1,v1=ab", "api_key": API_KEY}
    rendered = json.dumps(redact(None, "info", dict(event)))
    assert not leaks(rendered, [])
    assert "[redacted]" in rendered
