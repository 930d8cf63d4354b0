"""`payflow trigger <event-type>`: make payflow emit an event, then show where it went.

Like `stripe trigger`, it creates the fixture that produces the event — here an
order whose test payment method leads to it — through the HTTP API of a running
payflow, waits for the event, and prints the order, the event and every
delivery with the status code its endpoint answered. Exit status 0 means the
event was emitted and every endpoint answered 2xx; 1 means something did not.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from payflow.cli.client import Api, ApiError, add_api_options, open_api
from payflow.cli.output import error
from payflow.domain.events import EventType
from payflow.domain.payment_methods import OUTCOMES

POLL_SECONDS = 0.2
# An event that no endpoint wants has no deliveries; one that some endpoint wants gets
# them all at once, when every endpoint has answered its first attempt (within the
# webhook timeout, 10 s by default). Past this, "none yet" is taken to mean "none".
NO_DELIVERIES_GRACE_SECONDS = 12.0
BUILT_IN_ENDPOINT = "we_default"
FINAL_DELIVERY_STATES = {"succeeded", "dead"}
SUCCEEDING_METHOD = "pm_card_visa"


def decline_codes() -> dict[str, str]:
    """failureCode → the first test payment method that fails with it."""
    codes: dict[str, str] = {}
    for method, outcome in OUTCOMES.items():
        if outcome.failure_code and outcome.failure_code not in codes:
            codes[outcome.failure_code] = method
    return codes


@dataclass(frozen=True)
class Fixture:
    """How to make payflow emit one event type: the payment method of a new order."""

    payment_method: Callable[[argparse.Namespace], str]
    final_status: str
    capture_method: str | None = None  # `manual`: the order stops at Authorized


FIXTURES: dict[str, Fixture] = {
    EventType.PAYMENT_SUCCEEDED.value: Fixture(lambda _: SUCCEEDING_METHOD, "Paid"),
    EventType.PAYMENT_FAILED.value: Fixture(
        lambda args: decline_codes()[args.decline_code or "generic_decline"], "Failed"
    ),
    EventType.PAYMENT_AUTHORIZED.value: Fixture(
        lambda _: SUCCEEDING_METHOD, "Authorized", capture_method="manual"
    ),
}


def add_commands(commands: Any) -> None:
    trigger = commands.add_parser(
        "trigger",
        help="create an order that makes payflow emit EVENT, and show its deliveries",
        description="Create an order through the API of a running payflow so that it emits\n"
        "EVENT, wait for the event, and print the order, the event and each delivery\n"
        "with the HTTP status its endpoint answered. Exit status 0 when every endpoint\n"
        "answered 2xx.",
        epilog="examples:\n  payflow trigger payment.succeeded\n"
        "  payflow trigger payment.failed --decline-code insufficient_funds\n"
        "  payflow trigger payment.authorized   (then: payflow capture ORDER)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trigger.add_argument("event", metavar="EVENT", choices=sorted(FIXTURES), help=_choices())
    trigger.add_argument(
        "--decline-code",
        choices=sorted(decline_codes()),
        metavar="CODE",
        help="payment.failed only: the failureCode, one of "
        f"{', '.join(sorted(decline_codes()))} (default: generic_decline)",
    )
    trigger.add_argument("--amount", default="149.99", help="order amount (default: %(default)s)")
    trigger.add_argument("--currency", default="USD", help="order currency (default: %(default)s)")
    trigger.add_argument("--order-number", help="default: TRG- and 12 random hex digits")
    trigger.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the event and its deliveries (default: %(default)s)",
    )
    add_api_options(trigger)
    trigger.set_defaults(handler=run_trigger)


def _choices() -> str:
    return "one of: " + ", ".join(sorted(FIXTURES))


def run_trigger(args: argparse.Namespace) -> int:
    if args.decline_code and args.event != EventType.PAYMENT_FAILED.value:
        error(f"--decline-code only applies to {EventType.PAYMENT_FAILED.value}")
        return 2
    try:
        amount = Decimal(args.amount)
    except InvalidOperation:
        error(f"--amount {args.amount!r} is not a number")
        return 2
    fixture = FIXTURES[args.event]
    order_number = args.order_number or f"TRG-{uuid.uuid4().hex[:12].upper()}"
    try:
        with open_api(args) as api:
            return _trigger(api, args, fixture, order_number, amount)
    except ApiError as exc:
        error(str(exc))
        return 1


def _trigger(
    api: Api, args: argparse.Namespace, fixture: Fixture, order_number: str, amount: Decimal
) -> int:
    method = fixture.payment_method(args)
    body = {
        "orderNumber": order_number,
        "amount": amount,
        "currency": args.currency,
        "paymentMethod": method,
        "metadata": {"source": "payflow trigger"},
    }
    if fixture.capture_method is not None:
        body["captureMethod"] = fixture.capture_method
    order = api.post("/api/orders", body)
    print(
        f"Order {order['orderNumber']} created: {order['amount']} {order['currency']} "
        f"with {method} ({order['status']})"
    )
    deadline = time.monotonic() + args.timeout
    event = _wait_for_event(api, order_number, deadline)
    if event is None:
        error(f"no event for {order_number} within {args.timeout:g} s; is the worker running?")
        return 1
    print(f"Event {event['id']} {event['type']}")
    deliveries = _wait_for_deliveries(api, event["id"], deadline)
    ok = event["type"] == args.event
    if not deliveries:
        print("  no endpoint wants this event type")
    for delivery in deliveries:
        ok = _print_delivery(delivery) and ok
    if any(d["endpointId"] == BUILT_IN_ENDPOINT and d["state"] == "succeeded" for d in deliveries):
        order = _wait_for_status(api, order_number, fixture.final_status, deadline)
    else:  # nothing told payflow's own receiver, so the order may rightly stay Pending
        order = api.get(f"/api/orders/{order_number}")
    reason = f" ({order['failureCode']})" if order.get("failureCode") else ""
    print(f"Order {order_number} is {order['status']}{reason}")
    if not ok:
        print("✗ not every endpoint accepted the event")
    return 0 if ok else 1


def _wait_for_event(api: Api, order_number: str, deadline: float) -> dict[str, Any] | None:
    while True:
        events = api.get("/api/events", orderNumber=order_number, limit=1)
        if events:
            event: dict[str, Any] = events[0]
            return event
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_SECONDS)


def _wait_for_deliveries(api: Api, event_id: str, deadline: float) -> list[dict[str, Any]]:
    """Until every delivery has had an attempt (or the deadline): what each endpoint said."""
    none_until = min(time.monotonic() + NO_DELIVERIES_GRACE_SECONDS, deadline)
    while True:
        deliveries: list[dict[str, Any]] = api.get(f"/api/events/{event_id}/deliveries")
        # An event's deliveries are recorded together, each with its first attempt.
        settled = all(d["attempts"] > 0 and d["state"] != "processing" for d in deliveries)
        if (deliveries or time.monotonic() > none_until) and settled:
            return deliveries
        if time.monotonic() > deadline:
            return deliveries
        time.sleep(POLL_SECONDS)


def _wait_for_status(api: Api, order_number: str, status: str, deadline: float) -> dict[str, Any]:
    """The order once it has its final status; as it is at the deadline otherwise."""
    while True:
        order: dict[str, Any] = api.get(f"/api/orders/{order_number}")
        if order["status"] == status or time.monotonic() > deadline:
            return order
        time.sleep(POLL_SECONDS)


def _print_delivery(delivery: dict[str, Any]) -> bool:
    log = delivery["log"]
    last = log[-1] if log else None
    ok: bool = delivery["state"] == "succeeded"
    if last is None:
        answer = "not attempted yet"
    elif last["statusCode"] is not None:
        answer = f"HTTP {last['statusCode']} in {last['latencyMs']:.0f} ms"
    else:
        answer = str(last["error"])
    mark = "✓" if ok else "✗"
    print(
        f"  {mark} {delivery['endpointId']} {delivery['url']}: {delivery['state']}, {answer}"
        f" (delivery {delivery['id']})"
    )
    return ok
