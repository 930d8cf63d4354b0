"""The `payflow` command.

`serve` runs payflow; `sign` and `verify` handle webhook signatures offline;
`trigger`, `listen`, `orders`, `events`, `capture`, `customers`, `faults` and `clock` talk
to a running payflow through its HTTP API (never its database), like the Stripe CLI does
with Stripe. Run `payflow <command> --help` for each command's options.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import httpx

from payflow import __version__
from payflow.cli import (
    capture,
    clock,
    customers,
    faults,
    listen,
    listing,
    serve,
    signatures,
    trigger,
)


def main(argv: Sequence[str] | None = None, *, http: httpx.Client | None = None) -> int:
    """Run one command; `http` replaces the HTTP client of API commands (tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    args.http = http
    result: int = args.handler(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payflow",
        description="payflow: a webhook-driven payment gateway simulator.",
        epilog="Run 'payflow COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"payflow {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve.add_commands(commands)
    signatures.add_commands(commands)
    trigger.add_commands(commands)
    listen.add_commands(commands)
    listing.add_commands(commands)
    capture.add_commands(commands)
    faults.add_commands(commands)
    clock.add_commands(commands)
    customers.add_commands(commands)
    return parser
