"""Card numbers and CVCs are secret data (DESIGN §7): after saving cards every way the
API allows and refuses — saved, saved again as a duplicate, attached twice, replayed,
reused with another number, invalid, expired, malformed, sent as a JSON number — the
numbers appear in no document of any collection, no log line (the request log and
structlog's and the standard library's), no metric and no response."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import app_client, make_settings

pytestmark = pytest.mark.anyio

# Luhn-valid numbers that are saved, and one that fails the checksum; CVCs unlike any
# other value payflow writes.
DEBIT = "4000056655665556"
MASTERCARD = "5555555555554444"
INVALID = "4000056655665557"
CVCS = ("8317", "7093")
# A CVC is short, so it is looked for as a number of its own: not the digits inside a
# timestamp or a float in /metrics (`1.7964937965467093e+09` holds "7093").
LONE_CVC = re.compile(r"(?<![0-9])(?:" + "|".join(CVCS) + r")(?![0-9])")


def spellings(number: str) -> list[str]:
    """The number as digits, grouped by spaces and by dashes, and its first 12 digits."""
    groups = re.findall(".{1,4}", number)
    return [number, " ".join(groups), "-".join(groups), number[:12]]


SECRETS = [s for n in (DEBIT, MASTERCARD, INVALID) for s in spellings(n)]


def body(number: Any, cvc: str = CVCS[0], **fields: Any) -> bytes:
    card = {"number": number, "expMonth": 12, "expYear": 2040, "cvc": cvc}
    card.update(fields.pop("card", {}))
    return json.dumps({"type": "card", "card": card, **fields}).encode()


def strings_in(value: Any) -> Iterator[str]:
    """Every key and value of a document, recursively, as text."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    else:
        yield str(value)


async def test_card_numbers_and_cvcs_never_reach_the_database_logs_metrics_or_responses(
    mock_db: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []
    async with app_client(mock_db, settings=make_settings(log__level="DEBUG")) as client:

        async def post(path: str, idem: str, content: bytes) -> httpx.Response:
            headers = {"Idempotency-Key": idem, "Content-Type": "application/json"}
            response = await client.post(path, headers=headers, content=content)
            responses.append(response)
            assert response.status_code < 500, response.text
            return response

        customer = (await post("/api/customers", "cus", b"{}")).json()["id"]
        other = (await post("/api/customers", "cus-2", b"{}")).json()["id"]
        spaced, dashed = spellings(DEBIT)[1:3]
        saved = await post("/api/payment-methods", "a", body(spaced, customer=customer))
        assert saved.status_code == 201
        assert (await post("/api/payment-methods", "a", body(spaced, customer=customer))).headers[
            "idempotent-replayed"
        ] == "true"
        reused = await post("/api/payment-methods", "a", body(MASTERCARD, customer=customer))
        assert reused.status_code == 422
        duplicate = await post(
            "/api/payment-methods", "b", body(dashed, CVCS[1], customer=customer)
        )
        assert duplicate.status_code == 409
        assert (
            await post("/api/payment-methods", "c", body(DEBIT, customer=other))
        ).status_code == 201
        loose = await post("/api/payment-methods", "d", body(DEBIT))
        attach = json.dumps({"customer": customer}).encode()
        refused = await post(f"/api/payment-methods/{loose.json()['id']}/attach", "e", attach)
        assert refused.status_code == 409
        mastercard = await post("/api/payment-methods", "f", body(MASTERCARD, CVCS[1]))
        assert mastercard.status_code == 201
        for n, bad in enumerate(
            [
                body(INVALID),
                body(spellings(INVALID)[1]),
                body(DEBIT, card={"expYear": 2030}),
                body(DEBIT, card={"expMonth": 0}),
                body(int(DEBIT)),
                body(DEBIT, cvc="12345"),
                body(DEBIT, card={"pin": "0000"}),
                body(DEBIT, customer="cus_missing"),
                body(DEBIT)[:-2],  # malformed JSON
                body(DEBIT).replace(b'"card"', b'"kard"'),
            ]
        ):
            assert (await post("/api/payment-methods", f"bad-{n}", bad)).status_code in (400, 404)
        for path in (
            f"/api/payment-methods/{saved.json()['id']}",
            f"/api/customers/{customer}/payment-methods",
            "/metrics",
        ):
            responses.append(await client.get(path))
        documents: list[str] = []
        for name in await mock_db.list_collection_names():
            async for document in mock_db[name].find({}):
                documents.append(f"{name}: " + "\n".join(strings_in(document)))
    logs = capsys.readouterr()
    records = "\n".join(record.getMessage() for record in caplog.records)
    captured_logs = logs.out + logs.err + records
    assert "payment_method_created" in captured_logs  # the logs were captured
    assert any(d.startswith("payment_methods:") for d in documents)
    assert any(d.startswith("idempotency:") for d in documents)
    stored = "\n".join(documents)
    assert [s for s in SECRETS if s in stored] == []
    assert [s for s in SECRETS if s in captured_logs] == []
    assert LONE_CVC.findall(captured_logs) == []
    for document in documents:  # a CVC is short: look for it as a whole value or key
        values = set(document.split("\n"))
        assert values.isdisjoint(CVCS), document
        assert "cvc" not in values, document
        assert "number" not in values, document
    for response in responses:
        text = f"{response.headers}\n{response.text}"
        assert [s for s in SECRETS if s in text] == [], text
        assert LONE_CVC.findall(text) == [], text
