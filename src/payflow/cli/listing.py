"""`payflow orders` and `payflow events`: the most recent ones, as tables."""

from __future__ import annotations

import argparse
from typing import Any

from payflow.cli.client import ApiError, add_api_options, open_api
from payflow.cli.output import error, print_table, text


def add_commands(commands: Any) -> None:
    orders = commands.add_parser(
        "orders", help="list recent orders", description="List recent orders, newest first."
    )
    orders.add_argument("--status", help="only this status (Pending, Paid, Failed, …)")
    add_limit(orders)
    add_api_options(orders)
    orders.set_defaults(handler=run_orders)

    events = commands.add_parser(
        "events",
        help="list recent events",
        description="List events payflow emitted, newest first.",
    )
    events.add_argument("--type", dest="event_type", help="only this event type")
    events.add_argument("--order", dest="order_number", help="only this order's events")
    add_limit(events)
    add_api_options(events)
    events.set_defaults(handler=run_events)


def add_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=int, default=20, help="how many, at most 500 (default: %(default)s)"
    )


def run_orders(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            orders = api.get("/api/orders", status=args.status, limit=args.limit)
    except ApiError as exc:
        error(str(exc))
        return 1
    rows = [
        [
            o["orderNumber"],
            o["status"],
            f"{o['amount']} {o['currency']}",
            o["paymentMethod"],
            text(o.get("failureCode")),
            o["createdAt"],
        ]
        for o in orders
    ]
    print_table(["ORDER", "STATUS", "AMOUNT", "PAYMENT METHOD", "FAILURE", "CREATED"], rows)
    return 0


def run_events(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            events = api.get(
                "/api/events", type=args.event_type, orderNumber=args.order_number, limit=args.limit
            )
    except ApiError as exc:
        error(str(exc))
        return 1
    rows = [_event_row(e) for e in events]
    print_table(["EVENT", "TYPE", "ORDER", "AMOUNT", "CREATED"], rows)
    return 0


def _event_row(event: dict[str, Any]) -> list[str]:
    data = event.get("data") or {}
    amount = f"{data['amount']} {data.get('currency', '')}".strip() if "amount" in data else "-"
    return [
        event["id"],
        event["type"],
        text(data.get("orderNumber")),
        amount,
        text(event.get("createdAt")),
    ]
