"""`payflow capture ORDER [--amount X]`: capture an Authorized order through the HTTP API.

Like `stripe payment_intents capture`: the whole authorization by default, or part of
it (the rest goes back to the payer). Prints the order as the API answers it; exit
status 1 when the API refuses (not Authorized, already captured, amount too high).
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from payflow.cli.client import ApiError, add_api_options, open_api
from payflow.cli.output import error


def add_commands(commands: Any) -> None:
    capture = commands.add_parser(
        "capture",
        help="capture an Authorized order (manual capture), in full or in part",
        description="Capture an Authorized order through the API of a running payflow.\n"
        "Without --amount the whole authorization is captured; with it, that much, and\n"
        "the rest of the hold is released.",
        epilog="examples:\n  payflow capture ORD-1\n  payflow capture ORD-1 --amount 50.00",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    capture.add_argument("order", metavar="ORDER", help="the orderNumber")
    capture.add_argument("--amount", help="how much to capture (default: all of it)")
    add_api_options(capture)
    capture.set_defaults(handler=run_capture)


def run_capture(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.amount is not None:
        try:
            body["amount"] = Decimal(args.amount)
        except InvalidOperation:
            error(f"--amount {args.amount!r} is not a number")
            return 2
    try:
        with open_api(args) as api:
            order = api.post(f"/api/orders/{args.order}/capture", body)
    except ApiError as exc:
        error(str(exc))
        return 1
    print(
        f"Order {order['orderNumber']} is {order['status']}: captured {order['amountCaptured']} "
        f"of {order['amount']} {order['currency']}"
    )
    return 0
