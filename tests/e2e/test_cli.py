"""The `payflow` command against a served payflow, as a developer runs it in a terminal.

`listen` forwards to a small merchant app in this test process that verifies every
webhook with the official `stripe` library, using the secret `listen` printed.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from tests.e2e.conftest import ROOT, Served

pytestmark = [pytest.mark.e2e, pytest.mark.backends("embedded")]  # the CLI, not the database

DEADLINE_SECONDS = 30.0


def payflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_trigger_payment_failed_reports_the_event_and_its_delivery(served: Served) -> None:
    result = payflow(
        "trigger", "payment.failed", "--decline-code", "expired_card", "--api", served.base_url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "with pm_card_chargeDeclinedExpiredCard (Pending)" in lines[0]
    assert lines[1].endswith(" payment.failed")
    assert "✓ we_default " in lines[2]
    assert ": succeeded, HTTP 200 in " in lines[2]
    assert lines[-1].endswith(" is Failed (expired_card)")


def test_trigger_against_nothing_fails_cleanly() -> None:
    result = payflow("trigger", "payment.succeeded", "--api", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.startswith("✗ cannot reach payflow at http://127.0.0.1:9")


@dataclass
class Merchant:
    """A merchant's webhook endpoint: verifies with `stripe` once it knows the secret."""

    secret: str = ""
    verified: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


@pytest.fixture
def merchant() -> Iterator[tuple[Merchant, str]]:
    shop = Merchant()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                event: Any = stripe.Webhook.construct_event(
                    body, self.headers["Stripe-Signature"], shop.secret
                )
            except (stripe.SignatureVerificationError, ValueError) as exc:
                shop.rejected.append(str(exc))
                self.send_response(400)
            else:
                shop.verified.append(str(event.data["orderNumber"]))
                self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop, f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    finally:
        server.shutdown()
        server.server_close()


class Lines:
    """A process's stdout, line by line, read by a thread so waits have a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(line)

    def until(self, text: str) -> str:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in:\n{''.join(self.seen)}")


def test_listen_forwards_signed_events_prints_them_and_cleans_up_on_ctrl_c(
    served: Served, merchant: tuple[Merchant, str]
) -> None:
    shop, url = merchant
    listen = subprocess.Popen(
        [sys.executable, "-m", "payflow.cli", "listen", "--forward-to", url, "--scheme", "stripe"],
        cwd=ROOT,
        env={**os.environ, "PAYFLOW_API": served.base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(listen)
        endpoint_id = lines.until("endpoint ").split()[1]
        shop.secret = lines.until("secret ").split()[-1]
        created = httpx.post(
            f"{served.base_url}/api/orders",
            headers={"Idempotency-Key": "listen-1"},
            content=b'{"orderNumber":"LISTEN-1","amount":12.50}',
        )
        assert created.status_code == 201
        assert "--> payment.succeeded [evt_" in lines.until("-->")
        answer = lines.until("<--")
        assert f"<-- [200] POST {url} [evt_" in answer
        assert shop.verified == ["LISTEN-1"]
        assert shop.rejected == []
        listen.send_signal(signal.SIGINT)
        assert listen.wait(DEADLINE_SECONDS) == 0
        assert f"Stopped; endpoint {endpoint_id} removed." in lines.until("Stopped")
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait()
        assert listen.stdout is not None
        listen.stdout.close()
    endpoints = httpx.get(f"{served.base_url}/api/webhook-endpoints").json()
    assert [e["id"] for e in endpoints] == ["we_default"]
