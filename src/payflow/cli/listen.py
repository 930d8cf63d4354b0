"""`payflow listen --forward-to URL`: watch payflow's webhooks reach your app, live.

Modelled on `stripe listen`. It registers a temporary webhook endpoint for URL
through the API (payflow's sender posts there directly, signed with the
endpoint's own secret), prints that secret so your app can verify, then polls
the endpoint's deliveries and prints every attempt and the status your app
answered. Ctrl-C (or SIGTERM) removes the endpoint again.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from datetime import datetime
from types import FrameType
from typing import Any

from payflow.cli.client import Api, ApiError, add_api_options, open_api
from payflow.cli.output import error
from payflow.signing import Scheme

PAGE = 100


def add_commands(commands: Any) -> None:
    listen = commands.add_parser(
        "listen",
        help="forward payflow's webhooks to your app and print each delivery",
        description="Register a temporary webhook endpoint for --forward-to, print its signing\n"
        "secret, then print every delivery to it and your app's answer until Ctrl-C,\n"
        "which removes the endpoint. payflow itself posts to the URL, so it must be\n"
        "reachable from the payflow server.",
        epilog="example:\n  payflow listen --forward-to http://localhost:3000/webhooks "
        "--scheme stripe",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listen.add_argument(
        "--forward-to", required=True, metavar="URL", help="where your app receives webhooks"
    )
    listen.add_argument(
        "--events",
        default="*",
        metavar="TYPES",
        help="comma-separated event types to forward (default: all)",
    )
    listen.add_argument(
        "--scheme",
        choices=[s.value for s in Scheme],
        default=Scheme.PAYFLOW.value,
        help="how the deliveries are signed (default: %(default)s)",
    )
    listen.add_argument(
        "--interval", type=float, default=0.5, help="seconds between polls (default: %(default)s)"
    )
    listen.add_argument(
        "--count", type=int, metavar="N", help="stop after N delivery attempts (default: never)"
    )
    add_api_options(listen)
    listen.set_defaults(handler=run_listen)


class _Stop(Exception):
    """SIGINT or SIGTERM: leave, removing the endpoint."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _handle_signals() -> dict[int, Any]:
    """Make SIGINT and SIGTERM raise `_Stop`; returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may handle signals (an embedding caller's concern)
    return {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def run_listen(args: argparse.Namespace) -> int:
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    body = {
        "url": args.forward_to,
        "events": events,
        "scheme": args.scheme,
        "description": "payflow listen",
    }
    try:
        with open_api(args) as api:
            endpoint = api.post("/api/webhook-endpoints", body)
            # Also when started in the background, where a shell makes SIGINT ignored.
            previous = _handle_signals()
            try:
                _announce(endpoint)
                _follow(api, endpoint["id"], args.interval, args.count)
            except _Stop:
                pass
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                _remove(api, endpoint["id"])
    except ApiError as exc:
        error(str(exc))
        return 1
    return 0


def _announce(endpoint: dict[str, Any]) -> None:
    events = ", ".join(endpoint["events"])
    print(
        f"Ready! Forwarding payflow events ({events}) to {endpoint['url']}\n"
        f"  endpoint  {endpoint['id']} (signed with the {endpoint['scheme']} scheme)\n"
        f"  secret    {endpoint['secret']}\n"
        "Verify deliveries with that secret. Ctrl-C removes the endpoint.",
        flush=True,
    )


def _follow(api: Api, endpoint_id: str, interval: float, count: int | None) -> None:
    """Print each new attempt, oldest first, until `count` attempts have been printed."""
    printed: dict[str, int] = {}  # delivery id → attempts printed
    total = 0
    while count is None or total < count:
        deliveries = api.get(f"/api/webhook-endpoints/{endpoint_id}/deliveries", limit=PAGE)
        for delivery in reversed(deliveries):
            for attempt in delivery["log"]:
                if attempt["attempt"] <= printed.get(delivery["id"], 0):
                    continue
                _print_attempt(delivery, attempt)
                printed[delivery["id"]] = attempt["attempt"]
                total += 1
        if count is not None and total >= count:
            return
        time.sleep(interval)


def _print_attempt(delivery: dict[str, Any], attempt: dict[str, Any]) -> None:
    at = datetime.fromisoformat(attempt["at"].replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    event = f"[{delivery['eventId']}]"
    retry = f" (attempt {attempt['attempt']})" if attempt["attempt"] > 1 else ""
    print(f"{at}  --> {delivery['eventType']} {event} {delivery['orderNumber']}{retry}")
    if attempt["statusCode"] is not None:
        answer = f"[{attempt['statusCode']}] POST {delivery['url']} {event}"
        answer += f" {attempt['latencyMs']:.0f} ms"
    else:
        answer = f"[ERR] POST {delivery['url']} {event} {attempt['error']}"
    print(f"{at}  <-- {answer}", flush=True)


def _remove(api: Api, endpoint_id: str) -> None:
    try:
        api.delete(f"/api/webhook-endpoints/{endpoint_id}")
    except ApiError as exc:
        error(f"could not remove endpoint {endpoint_id}: {exc}")
        return
    print(f"Stopped; endpoint {endpoint_id} removed.", flush=True)
