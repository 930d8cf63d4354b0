"""payflow as users run it: a process, real HTTP, a real signed webhook round trip."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port
from tests.e2e.conftest import ROOT, Served, start, stop
from tests.waiting import wait_for_status_sync

pytestmark = pytest.mark.e2e

PAID_DEADLINE_SECONDS = 30.0  # an upper bound for a condition, not a timing assertion
# uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why.
CLEAN_EXIT = {0, -signal.SIGTERM}


@pytest.mark.backends("embedded")  # what payflow prints, whatever its database
def test_banner_shows_api_swagger_and_mongosh(served: Served) -> None:
    output = served.output()
    assert f"API      {served.base_url}/api/orders" in output
    assert f"Swagger  {served.base_url}/swagger/index.html" in output
    assert f"Dashboard {served.base_url}/dashboard" in output
    assert 'mongosh  npx --yes mongosh@2 "mongodb://127.0.0.1:' in output


def test_order_goes_pending_to_paid_through_a_real_signed_webhook(served: Served) -> None:
    created = httpx.post(
        f"{served.base_url}/api/Orders",
        headers={"Idempotency-Key": "e2e-1"},
        content=b'{"orderNumber":"E2E-1","amount":149.99,"currency":"USD"}',
    )
    assert created.status_code == 201
    assert created.json()["status"] == "Pending"
    paid = wait_for_status_sync(served.base_url, "E2E-1", "Paid", within=PAID_DEADLINE_SECONDS)
    assert paid["status"] == "Paid"
    trail = httpx.get(f"{served.base_url}/api/orders/E2E-1/events").json()
    assert [(e["outcome"], e["scheme"]) for e in trail] == [("applied", "payflow")]


def test_declined_card_ends_failed(served: Served) -> None:
    body = b'{"orderNumber":"E2E-2","amount":5,"paymentMethod":"pm_card_chargeDeclined"}'
    created = httpx.post(
        f"{served.base_url}/api/orders", headers={"Idempotency-Key": "e2e-2"}, content=body
    )
    assert created.status_code == 201
    failed = wait_for_status_sync(served.base_url, "E2E-2", "Failed", within=PAID_DEADLINE_SECONDS)
    assert failed["failureCode"] == "generic_decline"


@pytest.mark.backends("embedded")  # the wire contract; its storage runs on both elsewhere
def test_the_shell_test_script_passes_against_the_served_instance(served: Served) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "test-api.sh")],
        env={**os.environ, "BASE_URL": served.base_url, "WAIT_SECONDS": "30"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout
    assert "✓" in result.stdout
    assert "skipped" not in result.stdout


def test_data_survives_a_restart_and_sigterm_stops_cleanly(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    port = free_port()
    first = start(tmp_path, port, database_env)
    created = httpx.post(
        f"{first.base_url}/api/orders",
        headers={"Idempotency-Key": "keep"},
        content=b'{"orderNumber":"KEEP-1","amount":1}',
    )
    assert created.status_code == 201
    assert stop(first) in CLEAN_EXIT
    assert '"event": "worker_stopped"' in first.output()  # the graceful path ran to its end
    second = start(tmp_path, port, database_env)
    try:
        again = httpx.get(f"{second.base_url}/api/orders/KEEP-1")
        assert again.status_code == 200
        replay = httpx.post(
            f"{second.base_url}/api/orders",
            headers={"Idempotency-Key": "keep"},
            content=b'{"orderNumber":"KEEP-1","amount":1}',
        )
        assert replay.content == created.content
        assert replay.headers["idempotent-replayed"] == "true"
    finally:
        assert stop(second) in CLEAN_EXIT
