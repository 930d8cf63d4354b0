"""The API's shape: each resource package exports its controllers only, and every JSON
body Litestar encodes from a returned Struct is the byte form of `payflow.codec`."""

from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal
from types import ModuleType
from typing import Any

import msgspec
import pytest
from litestar import Controller, Response
from litestar.testing import AsyncTestClient

import payflow.api
from payflow.api.responses import JSON, ExactJSON
from payflow.codec import encode
from tests.support import order_body

Client = AsyncTestClient[Any]
RESOURCES = sorted(info.name for info in pkgutil.iter_modules(payflow.api.__path__) if info.ispkg)


def test_every_resource_is_a_package() -> None:
    assert RESOURCES == [
        "customers",
        "endpoints",
        "events",
        "faults",
        "health",
        "orders",
        "payment_methods",
        "refunds",
        "test_clock",
        "webhooks",
    ]


@pytest.mark.parametrize("name", RESOURCES)
def test_a_resource_package_exports_what_all_says_and_only_controllers(name: str) -> None:
    package = importlib.import_module(f"payflow.api.{name}")
    public = {
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(package.__all__)
    assert package.__all__ == sorted(package.__all__)
    for exported in package.__all__:
        assert issubclass(getattr(package, exported), Controller), exported


class Priced(msgspec.Struct, rename="camel"):
    amount: Decimal
    amount_refunded: Decimal
    note: str | None


def test_exact_json_renders_a_struct_as_payflow_codec_does() -> None:
    value = [
        Priced(Decimal("75.00"), Decimal("0.000"), None),
        Priced(Decimal("1500"), Decimal(0), "é"),
    ]
    rendered = ExactJSON(value).render(value, JSON)
    assert rendered == encode(value)
    assert rendered.startswith(b'[{"amount":75.00,"amountRefunded":0.000,')
    # Litestar's own encoder would send the amounts as strings: why ExactJSON exists.
    assert Response(value).render(value, JSON) != rendered


@pytest.mark.anyio
async def test_a_fetched_order_is_byte_for_byte_the_created_one(client: Client) -> None:
    headers = {"Idempotency-Key": "k", "Content-Type": "application/json"}
    created = await client.post("/api/orders", headers=headers, content=order_body(amount="75"))
    assert created.status_code == 201
    # The create's body is `payflow.codec.encode` (stored for replays); the GET's is a
    # returned Struct that Litestar encoded: the same bytes, amount `75.00` included.
    fetched = await client.get("/api/orders/ORD-67890")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == JSON
    assert fetched.content == created.content
    assert b'"amount":75.00,' in fetched.content
    listed = await client.get("/api/orders")
    assert listed.content == b"[" + created.content + b"]"
