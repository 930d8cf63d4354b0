"""Wire shapes of customers and their ledger, and the parsers of the two create bodies.

Amounts are checked like an order's (`domain.money`: a JSON number, exact, at most
the currency's minor digits), so msgspec is kept off them (`convert_body(exact=…)`);
currencies are accepted in any letter case and answered upper case.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from payflow.api.body import convert_body
from payflow.api.idempotent import stored_json
from payflow.api.orders.schemas import MetadataKey, MetadataValue
from payflow.domain.customers import Customer
from payflow.domain.money import (
    MoneyError,
    parse_amount,
    parse_currency,
    parse_signed_amount,
    to_minor,
)
from payflow.domain.wallets import Balance, BalanceTransaction
from payflow.errors import ValidationFailed
from payflow.store.base import StoredResponse
from payflow.timefmt import isoformat

MAX_DESCRIPTION = 500
CurrencyCode = Annotated[
    str, Meta(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, any letter case; answered upper")
]


class CreateCustomerRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/customers`; every field optional."""

    name: Annotated[str, Meta(max_length=256)] | None = None
    email: Annotated[str, Meta(max_length=512)] | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Meta(max_length=20)] = msgspec.field(
        default_factory=dict
    )
    balances: (
        Annotated[
            dict[CurrencyCode, Decimal],
            Meta(
                max_length=40,
                description="Opening balances by currency, each a JSON number > 0",
                examples=[{"USD": 100.00}],
            ),
        ]
        | UnsetType
    ) = UNSET


class CreateBalanceTransactionRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/customers/{id}/balance-transactions`: a credit or a debit."""

    amount: Annotated[
        Decimal,
        Meta(description="JSON number: positive credits, negative debits", examples=[25.00]),
    ]
    currency: CurrencyCode
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION)] | None = None


class BalanceOut(msgspec.Struct, rename="camel"):
    currency: str
    available: Decimal
    reserved: Decimal


class CustomerOut(msgspec.Struct, rename="camel"):
    """A customer as every endpoint returns it, its wallet in `balances`."""

    id: str
    name: str | None
    email: str | None
    metadata: dict[str, str]
    balances: list[BalanceOut]
    created_at: str


class BalanceTransactionOut(msgspec.Struct, rename="camel"):
    """A ledger entry with the wallet's balance (in its currency) right after it."""

    id: str
    type: str
    amount: Decimal
    currency: str
    order_number: str | None
    description: str | None
    available: Decimal
    reserved: Decimal
    created_at: str


def balance_out(balance: Balance) -> BalanceOut:
    return BalanceOut(balance.currency, balance.available, balance.reserved)


def customer_out(customer: Customer) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        metadata=dict(customer.metadata),
        balances=[balance_out(b) for b in sorted(customer.balances, key=lambda b: b.currency)],
        created_at=isoformat(customer.created_at),
    )


def transaction_out(entry: BalanceTransaction) -> BalanceTransactionOut:
    return BalanceTransactionOut(
        id=entry.id,
        type=entry.type.value,
        amount=entry.amount,
        currency=entry.currency,
        order_number=entry.order_number,
        description=entry.description,
        available=entry.balance.available,
        reserved=entry.balance.reserved,
        created_at=isoformat(entry.created_at),
    )


def customer_created(customer: Customer) -> StoredResponse:
    return stored_json(201, customer_out(customer), f"/api/customers/{customer.id}")


def parse_create_customer(payload: dict[str, Any]) -> tuple[CreateCustomerRequest, dict[str, int]]:
    """The body, and its opening balances as minor units by upper-case currency."""
    raw = payload.get("balances")
    shaped = dict(payload)
    if isinstance(raw, dict):  # the amounts are checked below, against their currencies
        shaped["balances"] = dict.fromkeys(raw, Decimal(1))
    request = convert_body(shaped, CreateCustomerRequest)
    if request.balances is UNSET or not isinstance(raw, dict):
        return request, {}
    errors: list[dict[str, str]] = []
    opening: dict[str, int] = {}
    for sent, value in raw.items():
        field = f"balances.{sent}"
        try:
            currency = parse_currency(sent)
            if currency in opening:
                raise MoneyError(f"{currency} is given twice")
            amount = parse_amount(value, currency)
        except MoneyError as exc:
            errors.append({"field": field, "message": str(exc)})
            continue
        opening[currency] = to_minor(amount, currency)
    if errors:
        raise ValidationFailed(errors)
    return request, opening


def parse_balance_transaction(
    payload: dict[str, Any],
) -> tuple[CreateBalanceTransactionRequest, int]:
    """The body, its currency upper case, and its amount in signed minor units."""
    request = convert_body(payload, CreateBalanceTransactionRequest, exact=("amount",))
    try:
        request.currency = parse_currency(request.currency)
    except MoneyError as exc:
        raise ValidationFailed([{"field": "currency", "message": str(exc)}]) from None
    try:
        amount = parse_signed_amount(payload.get("amount"), request.currency)
    except MoneyError as exc:
        raise ValidationFailed([{"field": "amount", "message": str(exc)}]) from None
    return request, to_minor(amount, request.currency)
