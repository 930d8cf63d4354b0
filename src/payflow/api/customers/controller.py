"""Customers and their wallets: create (idempotent), list, fetch; the wallet's ledger:
credit or debit (idempotent), list newest first.

A customer's id comes from the create's idempotency claim, and so does the id of each
ledger entry a credit or debit makes (`domain.wallets.adjustment`): a retry that takes
over a request which died half-way finds what that request wrote and finishes it, and a
debit is taken from the wallet once, however often it is retried. The wallet store
decides each movement with one insert into the customer's ledger
(store/mongo/wallets.py), so concurrent debits never overdraw a wallet.

Database round trips of `POST /api/customers` with a fresh key: claim the key, insert
the customer, read it back, +2 per opening balance (its ledger entry, the wallet
snapshot), store the response. `POST …/balance-transactions`: 1 read (the customer:
a 404 is never recorded) + claim, the ledger head, the entry, the snapshot, the
response. A replay is the claim alone (plus the read). `GET` paths are 1 or 2.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from litestar import Controller, Response, get, post
from litestar.params import FromPath, QueryParameter

from payflow import idempotency
from payflow.api.customers.docs import (
    CUSTOMER_EXAMPLE,
    TRANSACTION_EXAMPLE,
    CreateBalanceTransactionOperation,
    CreateCustomerOperation,
)
from payflow.api.customers.schemas import (
    BalanceTransactionOut,
    CustomerOut,
    customer_created,
    customer_out,
    parse_balance_transaction,
    parse_create_customer,
    transaction_out,
)
from payflow.api.dependencies import Customers, DataScope, Post, Wallets, find_customer, provide
from payflow.api.idempotent import idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.paging import next_page_link, read_page
from payflow.api.problems import problems
from payflow.api.responses import ExactJSON
from payflow.domain.customers import Customer, derive_customer_id
from payflow.domain.wallets import InsufficientBalance, adjustment, opening_balance
from payflow.errors import BalanceInsufficient
from payflow.store.base import StoredResponse

ROUTE = "/api/customers"

log = structlog.get_logger(__name__)

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Cursor = Annotated[str | None, QueryParameter(max_length=200)]


class CustomersController(Controller):
    path = ROUTE
    tags = ["customers"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("customers", "data_scope", "post")

    @post(
        "/",
        status_code=201,
        summary="Create a customer, with opening balances if given (idempotent)",
        responses={
            201: example_response(CustomerOut, "Created (or replayed)", customer=CUSTOMER_EXAMPLE),
            **idempotent_problems(),
        },
        operation_class=CreateCustomerOperation,
        description=(
            "Every field is optional. `balances` credits the new wallet, one `adjustment` "
            "ledger entry per currency. Requires an `Idempotency-Key`."
        ),
    )
    async def create_customer(self, post: Post, customers: Customers) -> Response[bytes]:
        payload = await post.json_object(optional=True)
        request, opening = parse_create_customer(payload)

        async def create(claim: idempotency.Claim) -> StoredResponse:
            customer_id = derive_customer_id(idempotency.seed_for_ids(claim))
            customer = Customer(
                id=customer_id,
                created_at=post.now,
                name=request.name,
                email=request.email,
                metadata=request.metadata,
                scope=claim.record.scope,
            )
            credits = [opening_balance(customer_id, c, m) for c, m in sorted(opening.items())]
            stored = await customers.insert(customer, credits)
            log.info("customer_created", customer_id=stored.id)
            return customer_created(stored)

        return await post.respond(ROUTE, payload, create)

    @get(
        "/",
        summary="List customers, newest first (plain array; next page in the Link header)",
        responses={
            200: example_response(list[CustomerOut], "Customers", customers=[CUSTOMER_EXAMPLE]),
            **problems(400),
        },
    )
    async def list_customers(
        self,
        customers: Customers,
        data_scope: DataScope,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ExactJSON[list[CustomerOut]]:
        found, next_cursor = await read_page(customers.page(limit, cursor, data_scope))
        headers = next_page_link(ROUTE, next_cursor, limit)
        return ExactJSON([customer_out(c) for c in found], headers=headers)

    @get(
        "/{customer_id:str}",
        summary="Fetch one customer with its wallet",
        responses={
            200: example_response(CustomerOut, "The customer", customer=CUSTOMER_EXAMPLE),
            **problems(400, 404),
        },
    )
    async def get_customer(
        self, customers: Customers, data_scope: DataScope, customer_id: FromPath[str]
    ) -> CustomerOut:
        return customer_out(await find_customer(customers, customer_id, data_scope))


class BalanceTransactionsController(Controller):
    path = f"{ROUTE}/{{customer_id:str}}/balance-transactions"
    tags = ["customers"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("customers", "wallets", "data_scope", "post")

    @post(
        "/",
        status_code=201,
        summary="Credit (amount > 0) or debit (amount < 0) the customer's wallet (idempotent)",
        responses={
            201: example_response(
                BalanceTransactionOut, "Applied (or replayed)", credit=TRANSACTION_EXAMPLE
            ),
            **idempotent_problems(
                404,
                s409="insufficient-balance: the debit is more than `available`; or "
                "idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CreateBalanceTransactionOperation,
        description=(
            "One `adjustment` entry in the ledger; the answer carries the wallet's "
            "`available` and `reserved` right after it. Requires an `Idempotency-Key`."
        ),
    )
    async def create_balance_transaction(
        self,
        post: Post,
        customers: Customers,
        wallets: Wallets,
        data_scope: DataScope,
        customer_id: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object()
        request, minor = parse_balance_transaction(payload)
        customer = await find_customer(customers, customer_id, data_scope)

        async def move(claim: idempotency.Claim) -> StoredResponse:
            seed = idempotency.seed_for_ids(claim)
            movement = adjustment(seed, request.currency, minor, request.description)
            try:
                moved = await wallets.apply(customer.id, [movement], post.now)
            except InsufficientBalance as exc:
                raise BalanceInsufficient(f"The debit is refused: the {exc}.") from None
            log.info("balance_adjusted", customer_id=customer.id, entry_id=movement.entry_id)
            return stored_json(201, transaction_out(moved.entries[0]))

        return await post.respond(f"{ROUTE}/{customer.id}/balance-transactions", payload, move)

    @get(
        "/",
        summary="The wallet's ledger, newest first (plain array; next page in the Link header)",
        responses={
            200: example_response(
                list[BalanceTransactionOut], "Ledger entries", entries=[TRANSACTION_EXAMPLE]
            ),
            **problems(400, 404),
        },
    )
    async def list_balance_transactions(
        self,
        customers: Customers,
        wallets: Wallets,
        data_scope: DataScope,
        customer_id: FromPath[str],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ExactJSON[list[BalanceTransactionOut]]:
        customer = await find_customer(customers, customer_id, data_scope)
        found, next_cursor = await read_page(wallets.transactions(customer.id, limit, cursor))
        headers = next_page_link(f"{ROUTE}/{customer.id}/balance-transactions", next_cursor, limit)
        return ExactJSON([transaction_out(e) for e in found], headers=headers)
