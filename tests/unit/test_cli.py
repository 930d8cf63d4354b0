"""The `payflow` command: help, sign/verify, trigger and listen argument handling and output.

`trigger` runs against an in-process payflow (worker on, webhooks delivered to its own
receiver) through Litestar's synchronous test client, which is an `httpx.Client`;
`listen` runs against a scripted fake of the API so every line it prints is known.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from litestar.testing import TestClient

from payflow import signing
from payflow.app import create_app
from payflow.cli import main
from payflow.lifespan import Overrides
from tests.support import FakeClock, make_settings

API = "http://payflow.test"
BODY = b'{"id":"evt_1","type":"payment.succeeded","data":{"orderNumber":"A-1","amount":1}}'
COMMANDS = [
    "serve",
    "sign",
    "verify",
    "trigger",
    "listen",
    "orders",
    "events",
    "capture",
    "customers",
    "faults",
    "clock",
]


class Ran(NamedTuple):
    code: int
    out: str
    err: str  # errors, and the in-process server's logs


def run(*argv: str, http: Any = None) -> Ran:
    # Redirected per call, not with capsys: the in-process server configures logging once
    # with the stderr of its start, which must outlive any one test's capture.
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv), http=http)
        except SystemExit as exited:  # argparse: --help exits 0, a usage error 2
            code = exited.code if isinstance(exited.code, int) else 1
    return Ran(code, out.getvalue(), err.getvalue())


def usage_error(*argv: str) -> str:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    return err


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_bytes(BODY)
    return path


# Help


def test_help_lists_every_command() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in COMMANDS:  # a long name has its help on the next line
        assert f"    {command} " in out or f"    {command}\n" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert f"usage: payflow {command}" in out


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run()
    assert code == 2
    assert "usage: payflow" in out


# sign / verify


@pytest.mark.parametrize("scheme", ["payflow", "stripe", "standard"])
def test_signed_body_verifies(body_file: Path, scheme: str) -> None:
    secret = signing.generate_secret(signing.Scheme(scheme))
    base = ["--scheme", scheme, "--secret", secret, "--timestamp", "1700000000", str(body_file)]
    code, out, _ = run("sign", "--id", "msg_1", *base)
    assert code == 0
    headers = [f"--header={line}" for line in out.splitlines()]
    code, out, _ = run("verify", *headers, *base)
    assert code == 0
    assert out == "✓ valid signature, timestamp 1700000000\n"


def test_sign_prints_one_v1_per_secret(body_file: Path) -> None:
    code, out, _ = run("sign", "--secret", "a", "--secret", "b", "--timestamp", "1", str(body_file))
    assert code == 0
    assert out.startswith("X-Signature: t=1,v1=")
    assert out.count("v1=") == 2


def test_verify_with_the_wrong_secret_exits_1_and_says_why(body_file: Path) -> None:
    header = signing.sign(signing.Scheme.PAYFLOW, BODY, ["right"], 1700000000)["X-Signature"]
    code, out, _ = run(
        "verify",
        "--secret",
        "wrong",
        "--timestamp",
        "1700000000",
        "--header",
        f"X-Signature: {header}",
        str(body_file),
    )
    assert code == 1
    assert out.startswith("✗ invalid (no-matching-signature)")


def test_verify_reports_a_stale_timestamp(body_file: Path) -> None:
    header = signing.sign(signing.Scheme.PAYFLOW, BODY, ["s"], 1700000000)["X-Signature"]
    args = ["--secret", "s", "--timestamp", "1700000301", "--header", f"X-Signature: {header}"]
    code, out, _ = run("verify", *args, str(body_file))
    assert code == 1
    assert "(timestamp-out-of-tolerance)" in out


def test_verify_rejects_a_header_without_a_colon(body_file: Path) -> None:
    code, _, err = run("verify", "--secret", "s", "--header", "nonsense", str(body_file))
    assert code == 2
    assert "is not 'Name: value'" in err


def test_sign_standard_without_an_id_makes_one_up_that_verifies(body_file: Path) -> None:
    secret = signing.generate_secret(signing.Scheme.STANDARD)
    base = ["--scheme", "standard", "--secret", secret, "--timestamp", "1700000000"]
    code, out, _ = run("sign", *base, str(body_file))
    assert code == 0
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    assert re.fullmatch(r"msg_[0-9a-f]{32}", headers["webhook-id"])
    verified = signing.verify(signing.Scheme.STANDARD, BODY, headers, [secret], 1700000000)
    assert verified == 1700000000


def test_sign_standard_with_a_non_ascii_id_is_a_clean_error(body_file: Path) -> None:
    secret = signing.generate_secret(signing.Scheme.STANDARD)
    args = ["--scheme", "standard", "--secret", secret, "--id", "msg_é", str(body_file)]
    code, _, err = run("sign", *args)
    assert code == 2
    assert "cannot sign" in err
    assert "message_id" in err


def test_sign_of_a_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    code, _, err = run("sign", "--secret", "s", str(tmp_path / "absent.json"))
    assert code == 2
    assert "cannot sign" in err


def test_sign_and_verify_need_a_secret() -> None:
    assert "--secret" in usage_error("sign")
    assert "--secret" in usage_error("verify", "--header", "X: y")


def test_unknown_scheme_is_a_usage_error() -> None:
    assert "invalid choice" in usage_error("sign", "--scheme", "hmac", "--secret", "s")


# trigger: arguments


def test_trigger_needs_a_known_event_type() -> None:
    assert "the following arguments are required: EVENT" in usage_error("trigger")
    assert "invalid choice: 'charge.refunded'" in usage_error("trigger", "charge.refunded")


def test_trigger_refuses_an_unknown_decline_code() -> None:
    err = usage_error("trigger", "payment.failed", "--decline-code", "stolen_card")
    assert "invalid choice: 'stolen_card'" in err


def test_decline_code_only_goes_with_payment_failed() -> None:
    code, _, err = run("trigger", "payment.succeeded", "--decline-code", "expired_card")
    assert code == 2
    assert err == "✗ --decline-code only applies to payment.failed\n"


def test_trigger_refuses_an_amount_that_is_not_a_number() -> None:
    code, _, err = run("trigger", "payment.succeeded", "--amount", "lots")
    assert code == 2
    assert err == "✗ --amount 'lots' is not a number\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def test_trigger_without_a_running_payflow_says_so() -> None:
    api = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run("trigger", "payment.succeeded", "--api", api)
    assert code == 1
    assert out == ""
    assert err.startswith(f"✗ cannot reach payflow at {api}")


# trigger: against an in-process payflow


@pytest.fixture
def payflow(mock_db: Any) -> Iterator[TestClient[Any]]:
    app = create_app(
        make_settings(),
        Overrides(clock=FakeClock(), database=mock_db, run_worker=True, deliver_in_process=True),
    )
    with TestClient(app, base_url=API) as client:
        yield client


def test_trigger_payment_succeeded_prints_order_event_and_delivery(
    payflow: TestClient[Any],
) -> None:
    code, out, _ = run(
        "trigger", "payment.succeeded", "--order-number", "T-1", "--api", API, http=payflow
    )
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "Order T-1 created: 149.99 USD with pm_card_visa (Pending)"
    assert lines[1].startswith("Event evt_")
    assert lines[1].endswith(" payment.succeeded")
    assert lines[2].startswith("  ✓ we_default http://127.0.0.1:8000/api/webhooks/payments: ")
    assert "succeeded, HTTP 200 in " in lines[2]
    assert lines[3] == "Order T-1 is Paid"


def test_trigger_payment_failed_uses_the_decline_code(payflow: TestClient[Any]) -> None:
    args = ["payment.failed", "--decline-code", "insufficient_funds", "--order-number", "T-2"]
    code, out, _ = run("trigger", *args, "--amount", "5", "--api", API, http=payflow)
    assert code == 0, out
    assert "T-2 created: 5.00 USD with pm_card_chargeDeclinedInsufficientFunds" in out
    assert out.splitlines()[-1] == "Order T-2 is Failed (insufficient_funds)"
    order = payflow.get("/api/orders/T-2").json()
    assert order["metadata"] == {"source": "payflow trigger"}


def test_trigger_payment_authorized_stops_at_authorized_then_capture_takes_part(
    payflow: TestClient[Any],
) -> None:
    args = ["payment.authorized", "--order-number", "T-A", "--amount", "20"]
    code, out, _ = run("trigger", *args, "--api", API, http=payflow)
    assert code == 0, out
    assert " payment.authorized" in out.splitlines()[1]
    assert out.splitlines()[-1] == "Order T-A is Authorized"
    code, out, _ = run("capture", "T-A", "--amount", "12.5", "--api", API, http=payflow)
    assert (code, out) == (0, "Order T-A is Paid: captured 12.50 of 20.00 USD\n")
    code, _, err = run("capture", "T-A", "--api", API, http=payflow)
    assert code == 1
    assert "409" in err


def test_capture_refuses_an_amount_that_is_not_a_number() -> None:
    code, _, err = run("capture", "T-A", "--amount", "lots", "--api", API)
    assert code == 2
    assert "--amount 'lots' is not a number" in err


def test_trigger_reports_a_problem_from_the_api(payflow: TestClient[Any]) -> None:
    args = ["payment.succeeded", "--currency", "XXX", "--api", API]
    code, _, err = run("trigger", *args, http=payflow)
    assert code == 1
    assert "✗ POST /api/orders: 400 Your request is not valid: currency:" in err


def test_orders_and_events_print_tables(payflow: TestClient[Any]) -> None:
    assert run("orders", "--api", API, http=payflow)[:2] == (0, "(none)\n")
    run("trigger", "payment.succeeded", "--order-number", "T-3", "--api", API, http=payflow)
    code, out, _ = run("orders", "--api", API, http=payflow)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "ORDER",
        "STATUS",
        "AMOUNT",
        "PAYMENT",
        "METHOD",
        "FAILURE",
        "CREATED",
    ]
    assert row.split()[:5] == ["T-3", "Paid", "149.99", "USD", "pm_card_visa"]
    code, out, _ = run("events", "--type", "payment.succeeded", "--api", API, http=payflow)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["EVENT", "TYPE", "ORDER", "AMOUNT", "CREATED"]
    assert row.split()[1:5] == ["payment.succeeded", "T-3", "149.99", "USD"]


# customers: against an in-process payflow


def test_customers_create_show_and_list_print_the_wallet(payflow: TestClient[Any]) -> None:
    assert run("customers", "--api", API, http=payflow)[:2] == (0, "(none)\n")
    args = ["--name", "Jenny", "--balance", "usd=100", "--balance", "JPY=500"]
    code, out, _ = run("customers", "create", *args, "--api", API, http=payflow)
    assert code == 0, out
    first, *rest = out.splitlines()
    assert first.startswith("Customer cus_")
    assert first.endswith(" created")
    customer = first.split()[1]
    assert "  name   Jenny" in rest
    assert [line.split() for line in rest[3:]] == [
        ["CURRENCY", "AVAILABLE", "RESERVED"],
        ["JPY", "500", "0"],
        ["USD", "100.00", "0.00"],
    ]
    code, out, _ = run("customers", "show", customer, "--api", API, http=payflow)
    assert code == 0
    lines = out.splitlines()
    assert ["USD", "100.00", "0.00"] in [line.split() for line in lines]
    entries = [line.split() for line in lines if line.startswith("cbtx_")]
    assert sorted(e[1:4] for e in entries) == [
        ["adjustment", "100.00", "USD"],
        ["adjustment", "500", "JPY"],
    ]
    code, out, _ = run("customers", "--api", API, http=payflow)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["CUSTOMER", "NAME", "EMAIL", "BALANCES", "CREATED"]
    assert row.split()[:7] == [customer, "Jenny", "-", "500", "JPY,", "100.00", "USD"]


def test_customers_show_of_an_unknown_customer_says_so(payflow: TestClient[Any]) -> None:
    code, out, err = run("customers", "show", "cus_missing", "--api", API, http=payflow)
    assert code == 1
    assert out == ""
    assert "✗ GET /api/customers/cus_missing: 404 Not found: No customer" in err


def test_customers_create_refuses_a_balance_that_is_not_currency_equals_amount() -> None:
    code, out, err = run("customers", "create", "--balance", "USD100")
    assert code == 2
    assert out == ""
    assert "--balance 'USD100' is not CURRENCY=AMOUNT" in err


def test_customers_create_reports_a_problem_from_the_api(payflow: TestClient[Any]) -> None:
    args = ["create", "--balance", "USD=1.001", "--api", API]
    code, _, err = run("customers", *args, http=payflow)
    assert code == 1
    assert "✗ POST /api/customers: 400 Your request is not valid: balances.USD:" in err


# listen: against a scripted API


class FakePayflow:
    """Answers the three calls `listen` makes, with deliveries that grow poll by poll."""

    def __init__(self, polls: list[list[dict[str, Any]]]) -> None:
        self.polls = polls
        self.created: dict[str, Any] | None = None
        self.deleted: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/api/webhook-endpoints":
            assert request.headers["idempotency-key"].startswith("cli-")
            self.created = json.loads(request.content)
            return httpx.Response(201, json={**self.created, "id": "we_1", "secret": "whsec_x"})
        if request.method == "GET" and path == "/api/webhook-endpoints/we_1/deliveries":
            return httpx.Response(
                200, json=self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
            )
        if request.method == "DELETE" and path == "/api/webhook-endpoints/we_1":
            self.deleted.append("we_1")
            return httpx.Response(200, json={"id": "we_1", "deleted": True})
        return httpx.Response(404, json={"title": "Not found", "detail": path})


def delivery(attempts: list[tuple[int | None, str | None]]) -> dict[str, Any]:
    return {
        "id": "dlv_1",
        "eventId": "evt_1",
        "eventType": "payment.succeeded",
        "orderNumber": "A-1",
        "url": "http://127.0.0.1:3000/hooks",
        "log": [
            {
                "at": "2036-11-22T20:47:01.123Z",
                "attempt": n,
                "statusCode": status,
                "latencyMs": 12.3,
                "error": error,
            }
            for n, (status, error) in enumerate(attempts, start=1)
        ],
    }


def test_listen_registers_prints_the_secret_and_each_attempt_once_then_removes() -> None:
    fake = FakePayflow(
        [
            [],
            [delivery([(None, "ConnectError: refused")])],
            [delivery([(None, "ConnectError: refused"), (200, None)])],
        ]
    )
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        code, out, _ = run(
            "listen",
            "--forward-to",
            "http://127.0.0.1:3000/hooks",
            "--scheme",
            "stripe",
            "--events",
            "payment.succeeded, payment.failed",
            "--interval",
            "0",
            "--count",
            "2",
            "--api",
            API,
            http=http,
        )
    assert code == 0
    assert fake.created == {
        "url": "http://127.0.0.1:3000/hooks",
        "events": ["payment.succeeded", "payment.failed"],
        "scheme": "stripe",
        "description": "payflow listen",
    }
    assert fake.deleted == ["we_1"]
    assert out.splitlines() == [
        "Ready! Forwarding payflow events (payment.succeeded, payment.failed) to "
        "http://127.0.0.1:3000/hooks",
        "  endpoint  we_1 (signed with the stripe scheme)",
        "  secret    whsec_x",
        "Verify deliveries with that secret. Ctrl-C removes the endpoint.",
        "2036-11-22 20:47:01  --> payment.succeeded [evt_1] A-1",
        "2036-11-22 20:47:01  <-- [ERR] POST http://127.0.0.1:3000/hooks [evt_1] "
        "ConnectError: refused",
        "2036-11-22 20:47:01  --> payment.succeeded [evt_1] A-1 (attempt 2)",
        "2036-11-22 20:47:01  <-- [200] POST http://127.0.0.1:3000/hooks [evt_1] 12 ms",
        "Stopped; endpoint we_1 removed.",
    ]


def test_faults_add_list_and_clear(payflow: TestClient[Any]) -> None:
    api = ["--api", API]
    add = ["faults", "add", "--path", "/api/orders", "--method", "post", *api]
    code, out, _ = run(
        *add, "--fault", "after-commit:reset", "--rate", "0.5", "--count", "3", http=payflow
    )
    assert code == 0, out
    assert out.endswith(": after-commit:reset on POST /api/orders at rate 0.5, at most 3 times\n")
    rule_id = out.split()[1].rstrip(":")
    code, out, _ = run("faults", "list", *api, http=payflow)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["RULE", "METHOD", "PATH", "FAULT", "RATE", "LEFT", "INJECTED"]
    assert row.split() == [rule_id, "POST", "/api/orders", "after-commit:reset", "0.5", "3", "0"]
    assert run("faults", "clear", *api, http=payflow)[:2] == (0, f"Deleted {rule_id}\n")
    assert run("faults", "list", *api, http=payflow)[:2] == (0, "(none)\n")


def test_faults_add_reports_a_refused_fault(payflow: TestClient[Any]) -> None:
    code, _, err = run(
        "faults", "add", "--path", "/api/*", "--fault", "boom", "--api", API, http=payflow
    )
    assert code == 1
    assert "✗ POST /api/faults: 400 Your request is not valid: fault: unknown fault 'boom'" in err
    assert usage_error("faults", "add", "--path", "/", "--fault", "reset", "--rate", "2").endswith(
        "a number from 0 to 1\n"
    )


def test_listen_reports_a_refused_url(payflow: TestClient[Any]) -> None:
    args = ["listen", "--forward-to", "ftp://nope", "--api", API]
    code, _, err = run(*args, http=payflow)
    assert code == 1
    assert "✗ POST /api/webhook-endpoints: 400 Your request is not valid: url:" in err
