"""OpenAPI of customers beyond what Litestar infers: the raw-bytes bodies and the examples."""

from __future__ import annotations

from typing import Any

from payflow.api.customers.schemas import CreateBalanceTransactionRequest, CreateCustomerRequest
from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import exact_amount, request_body, struct_schema
from payflow.domain.money import MAX_AMOUNT


def create_customer_schema() -> dict[str, Any]:
    schema = struct_schema(CreateCustomerRequest)
    balances = schema["properties"]["balances"]
    balances["additionalProperties"] = exact_amount("at most the currency's minor digits", 100.00)
    return schema


def balance_transaction_schema() -> dict[str, Any]:
    schema = struct_schema(CreateBalanceTransactionRequest)
    schema["properties"]["amount"] = {
        "type": "number",
        "not": {"const": 0},
        "minimum": -float(MAX_AMOUNT),
        "maximum": float(MAX_AMOUNT),
        "description": (
            "JSON number (a string is rejected), exact, at most the currency's minor "
            "digits: positive credits, negative debits"
        ),
        "examples": [25.00, -10.00],
    }
    return schema


CreateCustomerOperation = idempotent_post_operation(
    201,
    request_body(
        create_customer_schema(),
        "The customer; every field optional",
        required=False,
        with_balance={
            "name": "Jenny Rosen",
            "email": "jenny@example.com",
            "metadata": {"crm": "4711"},
            "balances": {"USD": 100.00},
        },
        empty={},
    ),
    location="/api/customers/{id}",
)
CreateBalanceTransactionOperation = idempotent_post_operation(
    201,
    request_body(
        balance_transaction_schema(),
        "A credit (amount > 0) or a debit (amount < 0)",
        credit={"amount": 25.00, "currency": "USD", "description": "top-up"},
        debit={"amount": -10.00, "currency": "usd"},
    ),
)
CUSTOMER_EXAMPLE: dict[str, Any] = {
    "id": "cus_4f2a9c1e7b3d5a8f6e0c2b1d",
    "name": "Jenny Rosen",
    "email": "jenny@example.com",
    "metadata": {"crm": "4711"},
    "balances": [{"currency": "USD", "available": 100.00, "reserved": 0.00}],
    "createdAt": "2026-11-22T20:47:01.123Z",
}
TRANSACTION_EXAMPLE: dict[str, Any] = {
    "id": "cbtx_9d8c7b6a5f4e3d2c1b0a9f8e",
    "type": "adjustment",
    "amount": 25.00,
    "currency": "USD",
    "orderNumber": None,
    "description": "top-up",
    "available": 125.00,
    "reserved": 0.00,
    "createdAt": "2026-11-22T20:48:30.456Z",
}
