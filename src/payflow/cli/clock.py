"""`payflow clock show` and `payflow clock advance 90m`: the test clock from the shell."""

from __future__ import annotations

import argparse
import re
from typing import Any

from payflow.cli.client import ApiError, add_api_options, open_api
from payflow.cli.output import error

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `90m`, `1h30m`, `7d`, `2w` → seconds; ValueError otherwise."""
    spelled = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", spelled):
        return float(spelled)
    parts = _PART.findall(spelled)
    if not parts or "".join(n + u for n, u in parts) != spelled:
        raise ValueError(f"{text!r} is not a duration like 90s, 90m, 1h30m, 7d or 2w")
    return sum(float(number) * UNIT_SECONDS[unit] for number, unit in parts)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(commands: Any) -> None:
    clock = commands.add_parser(
        "clock",
        help="show or advance the test clock",
        description='Show or advance payflow\'s time; payflow must run with [clock] mode = "test".',
    )
    actions = clock.add_subparsers(title="actions", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print payflow's time now")
    add_api_options(show)
    show.set_defaults(handler=run_show)
    advance = actions.add_parser(
        "advance", help="move payflow's time on; work that becomes due runs at once"
    )
    advance.add_argument(
        "duration", type=_duration, help="how far: seconds, or 90s, 90m, 1h30m, 7d, 2w"
    )
    add_api_options(advance)
    advance.set_defaults(handler=run_advance)


def run_show(args: argparse.Namespace) -> int:
    return _print_clock(args, "GET", None)


def run_advance(args: argparse.Namespace) -> int:
    return _print_clock(args, "POST", {"seconds": args.duration})


def _print_clock(args: argparse.Namespace, method: str, body: Any) -> int:
    try:
        with open_api(args) as api:
            if method == "GET":
                clock = api.get("/api/test-clock")
            else:
                clock = api.post("/api/test-clock/advance", body)
    except ApiError as exc:
        error(str(exc))
        return 1
    print(f"{clock['now']}  ({clock['mode']} clock)")
    return 0
