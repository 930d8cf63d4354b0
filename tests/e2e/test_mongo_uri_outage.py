"""With `MONGO_URI`, payflow does not own the database: it rides out an outage by itself.
The server is stopped and started again (same port, same data) under a running payflow:
meanwhile requests answer 503 `service-unavailable` with Retry-After (never 500), and
afterwards the driver has reconnected and the work carries on without a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port, start, stop
from tests.e2e.conftest import start as start_payflow
from tests.e2e.conftest import stop as stop_payflow
from tests.waiting import eventually_sync

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 60.0  # an upper bound for a condition, not a timing assertion


def test_payflow_on_a_mongo_uri_answers_503_during_an_outage_and_resumes_after_it(
    tmp_path: Path,
) -> None:
    db_port = free_port()
    server = start(tmp_path / "mongo", port=db_port)
    payflow = start_payflow(tmp_path, free_port(), {"MONGO_URI": server.uri})
    api = httpx.Client(base_url=payflow.base_url, timeout=30)
    try:
        before = api.post(
            "/api/orders",
            headers={"Idempotency-Key": "out-1"},
            json={"orderNumber": "OUT-1", "amount": 5},
        )
        assert before.status_code == 201
        stop(server)

        during = api.post(
            "/api/orders",
            headers={"Idempotency-Key": "out-2"},
            json={"orderNumber": "OUT-2", "amount": 6},
        )
        assert during.status_code == 503
        assert during.headers["content-type"].startswith("application/problem+json")
        assert during.json()["type"].endswith("/service-unavailable")
        assert int(during.headers["Retry-After"]) >= 1
        assert api.get("/health/ready").status_code == 503

        server = start(tmp_path / "mongo", port=db_port)

        def answered() -> httpx.Response | None:
            retry = api.post(
                "/api/orders",
                headers={"Idempotency-Key": "out-2"},
                json={"orderNumber": "OUT-2", "amount": 6},
            )
            assert retry.status_code in (201, 503), retry.text
            return retry if retry.status_code == 201 else None

        eventually_sync(answered, "the create after the outage", within=DEADLINE_SECONDS)
        assert api.get("/health/ready").status_code == 200

        def paid() -> bool:
            return {api.get(f"/api/orders/{n}").json()["status"] for n in ("OUT-1", "OUT-2")} == {
                "Paid"
            }

        eventually_sync(paid, "both orders Paid", within=DEADLINE_SECONDS)
        assert payflow.process.poll() is None
    finally:
        api.close()
        if payflow.process.poll() is None:
            stop_payflow(payflow)
        stop(server)
