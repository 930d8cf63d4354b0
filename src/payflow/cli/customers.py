"""`payflow customers`: list customers with their wallets, create one, show one.

`payflow customers` lists the newest; `create` makes a customer, with opening
balances given as `--balance USD=100.00` (any number of them); `show ID` prints the
customer, its balance in each currency and the newest entries of its ledger.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from payflow.cli.client import ApiError, add_api_options, open_api
from payflow.cli.listing import add_limit
from payflow.cli.output import error, print_table, text

LEDGER_LINES = 10


def add_commands(commands: Any) -> None:
    customers = commands.add_parser(
        "customers",
        help="list, create or show customers and their wallets",
        description="List customers with their balances, newest first; or create or show one.",
    )
    add_limit(customers)
    add_api_options(customers)
    customers.set_defaults(handler=run_list)
    actions = customers.add_subparsers(title="actions", metavar="ACTION")

    create = actions.add_parser(
        "create", help="create a customer", description="Create a customer with a wallet."
    )
    create.add_argument("--name")
    create.add_argument("--email")
    create.add_argument(
        "--balance",
        action="append",
        default=[],
        metavar="CURRENCY=AMOUNT",
        help="an opening balance, such as USD=100.00 (repeat for more currencies)",
    )
    add_api_options(create)
    create.set_defaults(handler=run_create)

    show = actions.add_parser(
        "show",
        help="show a customer's balances and ledger",
        description="Show a customer, its balance in each currency and its newest ledger entries.",
    )
    show.add_argument("customer", metavar="ID", help="the customer's id (cus_…)")
    add_api_options(show)
    show.set_defaults(handler=run_show)


def run_list(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            customers = api.get("/api/customers", limit=args.limit)
    except ApiError as exc:
        error(str(exc))
        return 1
    rows = [
        [c["id"], text(c.get("name")), text(c.get("email")), balances_text(c), c["createdAt"]]
        for c in customers
    ]
    print_table(["CUSTOMER", "NAME", "EMAIL", "BALANCES", "CREATED"], rows)
    return 0


def run_create(args: argparse.Namespace) -> int:
    try:
        balances = opening_balances(args.balance)
    except ValueError as exc:
        error(str(exc))
        return 2
    body: dict[str, Any] = {"balances": balances}
    if args.name is not None:
        body["name"] = args.name
    if args.email is not None:
        body["email"] = args.email
    try:
        with open_api(args) as api:
            customer = api.post("/api/customers", body)
    except ApiError as exc:
        error(str(exc))
        return 1
    print(f"Customer {customer['id']} created")
    print_customer(customer, [])
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            customer = api.get(f"/api/customers/{args.customer}")
            ledger = api.get(
                f"/api/customers/{args.customer}/balance-transactions", limit=LEDGER_LINES
            )
    except ApiError as exc:
        error(str(exc))
        return 1
    print_customer(customer, ledger)
    return 0


def opening_balances(given: list[str]) -> dict[str, Decimal]:
    """`["USD=100.00", "eur=5"]` as `{"USD": 100.00, "EUR": 5}`; payflow checks the rest."""
    balances: dict[str, Decimal] = {}
    for item in given:
        currency, _, amount = item.partition("=")
        try:
            balances[currency.strip().upper()] = Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"--balance {item!r} is not CURRENCY=AMOUNT") from None
    return balances


def balances_text(customer: dict[str, Any]) -> str:
    """`100.00 USD, 5.00 EUR (2.00 reserved)`: each currency's available, and any hold."""
    parts = []
    for b in customer.get("balances") or []:
        held = f" ({b['reserved']} reserved)" if Decimal(str(b["reserved"])) else ""
        parts.append(f"{b['available']} {b['currency']}{held}")
    return ", ".join(parts) or "-"


def print_customer(customer: dict[str, Any], ledger: list[dict[str, Any]]) -> None:
    print(f"  name   {text(customer.get('name'))}")
    print(f"  email  {text(customer.get('email'))}")
    print()
    balances = [
        [b["currency"], str(b["available"]), str(b["reserved"])]
        for b in customer.get("balances") or []
    ]
    print_table(["CURRENCY", "AVAILABLE", "RESERVED"], balances)
    if ledger:
        print()
        rows = [
            [
                e["id"],
                e["type"],
                f"{e['amount']} {e['currency']}",
                text(e.get("orderNumber")),
                str(e["available"]),
                e["createdAt"],
            ]
            for e in ledger
        ]
        print_table(["ENTRY", "TYPE", "AMOUNT", "ORDER", "AVAILABLE AFTER", "CREATED"], rows)
