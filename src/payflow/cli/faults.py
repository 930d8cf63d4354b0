"""`payflow faults add | list | clear`: the fault rules of a running payflow (`/api/faults`).

payflow faults add --path '/api/orders' --method POST --fault after-commit:reset --rate 0.5
payflow faults list
payflow faults clear            # every rule; or name the ids to remove
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from payflow.cli.client import ApiError, add_api_options, open_api
from payflow.cli.output import error, render, text

ROUTE = "/api/faults"


def add_commands(commands: Any) -> None:
    faults = commands.add_parser(
        "faults",
        help="add, list or clear fault rules",
        description="Make a running payflow fail on purpose: fault rules (DESIGN §8).",
    )
    actions = faults.add_subparsers(title="actions", metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="add a fault rule",
        description="Matching requests meet FAULT at RATE, in every payflow on the database.",
    )
    add.add_argument("--path", required=True, help="glob over the request path, e.g. '/api/*'")
    add.add_argument(
        "--fault",
        required=True,
        help="error-500, error-503, timeout, reset, slow=<ms>, after-commit:<error-500|reset|"
        "timeout>",
    )
    add.add_argument(
        "--rate", type=_rate, default=Decimal(1), help="share 0-1 of matching requests (default 1)"
    )
    add.add_argument("--method", help="only this HTTP method (default: every method)")
    add.add_argument("--count", type=int, help="fire at most this many times (default: no limit)")
    add_api_options(add)
    add.set_defaults(handler=run_add)

    listing = actions.add_parser("list", help="list fault rules", description="List fault rules.")
    add_api_options(listing)
    listing.set_defaults(handler=run_list)

    clear = actions.add_parser(
        "clear", help="delete fault rules", description="Delete the named rules, or every rule."
    )
    clear.add_argument("ids", nargs="*", metavar="ID", help="rule ids (default: every rule)")
    add_api_options(clear)
    clear.set_defaults(handler=run_clear)


def _rate(value: str) -> Decimal:
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError("a number from 0 to 1") from None
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError("a number from 0 to 1")
    return rate


def run_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"path": args.path, "fault": args.fault, "rate": args.rate}
    if args.method:
        body["method"] = args.method
    if args.count is not None:
        body["count"] = args.count
    try:
        with open_api(args) as api:
            rule = api.post(ROUTE, body)
    except ApiError as exc:
        error(str(exc))
        return 1
    print(f"Added {rule['id']}: {_describe(rule)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            rules = api.get(ROUTE)
    except ApiError as exc:
        error(str(exc))
        return 1
    if not rules:
        print("(none)")
        return 0
    headers = ["RULE", "METHOD", "PATH", "FAULT", "RATE", "LEFT", "INJECTED"]
    print(render(headers, [_row(rule) for rule in rules]))
    return 0


def run_clear(args: argparse.Namespace) -> int:
    try:
        with open_api(args) as api:
            ids = args.ids or [rule["id"] for rule in api.get(ROUTE)]
            for rule_id in ids:
                api.delete(f"{ROUTE}/{rule_id}")
                print(f"Deleted {rule_id}")
    except ApiError as exc:
        error(str(exc))
        return 1
    if not ids:
        print("(no rules)")
    return 0


def _describe(rule: dict[str, Any]) -> str:
    method = rule.get("method") or "any method"
    limit = "" if rule.get("count") is None else f", at most {rule['count']} times"
    return f"{rule['fault']} on {method} {rule['path']} at rate {rule['rate']}{limit}"


def _row(rule: dict[str, Any]) -> list[str]:
    return [
        rule["id"],
        rule.get("method") or "*",
        rule["path"],
        rule["fault"],
        text(rule["rate"]),
        "-" if rule.get("remaining") is None else str(rule["remaining"]),
        text(rule["injected"]),
    ]
