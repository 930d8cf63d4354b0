"""What an operator sees: one order's whole life in /metrics and in the logs, and a
readiness probe that tells a dead database or a stopped worker from a healthy process."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import anyio
import pytest

from payflow import idempotency
from payflow.api.body import decode_json_object
from payflow.config import DEFAULT_SECRET, Settings
from payflow.database_process import MEMORY, start, stop
from payflow.store.base import IdempotencyRecord
from payflow.store.mongo import MongoStore
from tests.integration.target import in_app_loop
from tests.support import START, app_client, make_settings, order_body
from tests.waiting import eventually

pytestmark = pytest.mark.anyio


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def one(lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    found = [line for line in lines if all(line.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, (fields, found)
    return found[0]


async def test_metrics_and_logs_follow_one_order_from_creation_to_payment(
    mongo_db: Any, db_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    body = order_body("LIFE-1")
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        headers = {"Idempotency-Key": "life-1", "X-Request-Id": "req-life-1"}
        created = await client.post("/api/orders", headers=headers, content=body)
        assert created.status_code == 201

        async def paid_and_receipted() -> bool:
            # The receiver moves the order first and writes its receipt right after.
            # The sender counts its delivery only after the receiver has answered.
            trail = (await client.get("/api/orders/LIFE-1/events")).json()
            metrics = (await client.get("/metrics")).text.splitlines()
            return [entry["outcome"] for entry in trail] == ["applied"] and (
                'payflow_webhook_deliveries_total{result="succeeded"} 1.0' in metrics
                and "payflow_queue_depth 0.0" in metrics
            )

        await eventually(paid_and_receipted, "the order paid, its receipt written")
        assert (await client.get("/api/orders/LIFE-1")).json()["status"] == "Paid"
        again = {"Idempotency-Key": "life-1"}
        replay = await client.post("/api/orders", headers=again, content=body)
        assert replay.headers["idempotent-replayed"] == "true"
        other = order_body("LIFE-2")
        reused = await client.post("/api/orders", headers=again, content=other)
        assert reused.status_code == 422
        # A key whose first request is still running (its holder is alive): 409.
        fingerprint = idempotency.fingerprint("POST", "/api/orders", decode_json_object(other))
        await MongoStore(mongo_db).idempotency.claim(
            IdempotencyRecord(
                "global",
                "busy",
                fingerprint,
                idempotency.IN_PROGRESS,
                "token",
                START + timedelta(minutes=5),
                START + timedelta(hours=24),
            )
        )
        busy = await client.post("/api/orders", headers={"Idempotency-Key": "busy"}, content=other)
        assert busy.status_code == 409
        metrics = (await client.get("/metrics")).text

    for sample in (
        "payflow_orders_created_total 1.0",
        "payflow_idempotent_replays_total 1.0",
        'payflow_idempotency_conflicts_total{reason="reused"} 1.0',
        'payflow_idempotency_conflicts_total{reason="in_progress"} 1.0',
        'payflow_orders_processed_total{result="payment.succeeded"} 1.0',
        'payflow_webhook_deliveries_total{result="succeeded"} 1.0',
        "payflow_webhook_delivery_seconds_count 1.0",
        'payflow_payments_total{outcome="applied"} 1.0',
        "payflow_webhook_dead_letters_total 0.0",
        "payflow_queue_depth 0.0",
    ):
        assert sample in metrics.splitlines(), sample

    output = capsys.readouterr()
    lines = log_lines(output.err)
    order_id = created.json()["id"]
    one(lines, event="http_request", request_id="req-life-1", path="/api/orders", status=201)
    one(lines, event="order_created", request_id="req-life-1", order_number="LIFE-1")
    processed = one(lines, event="order_processed", order_number="LIFE-1", order_id=order_id)
    event_id = processed["event_id"]
    delivered = one(lines, event="webhook_delivered", event_id=event_id, attempt=1)
    assert delivered["order_number"] == "LIFE-1"
    assert delivered["delivery_id"].startswith("dlv_")
    received = one(lines, event="webhook_received", event_id=event_id, outcome="applied")
    assert received["order_number"] == "LIFE-1"
    assert received["request_id"]  # the receiving request's own id
    one(
        lines,
        event="http_request",
        request_id=received["request_id"],
        path="/api/webhooks/payments",
        status=200,
    )
    everything = output.out + output.err
    assert DEFAULT_SECRET not in everything
    assert "v1=" not in everything  # no signature, in any scheme's header format


@pytest.mark.backends("embedded")  # stops and restarts an embedded server of its own
async def test_ready_is_503_while_the_database_is_unreachable_and_requests_get_a_503_problem(
    mongo_db: Any,
) -> None:
    server = await anyio.to_thread.run_sync(start, MEMORY)
    try:
        settings = make_settings(mongo__uri=server.uri)
        async with app_client(None, settings=settings, run_worker=True) as client:
            assert (await client.get("/health/ready")).json() == {
                "status": "ok",
                "database": "ok",
                "worker": "ok",
            }
            await anyio.to_thread.run_sync(stop, server)
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["database"] == "unreachable"
            created = await client.post(
                "/api/orders", headers={"Idempotency-Key": "down"}, content=order_body()
            )
            assert created.status_code == 503
            assert created.headers["content-type"] == "application/problem+json"
            assert created.headers["retry-after"] == "1"
            assert created.json()["type"] == "/problems/service-unavailable"

            server = await anyio.to_thread.run_sync(lambda: start(MEMORY, port=server.port))

            async def ready_again() -> bool:
                return (await client.get("/health/ready")).status_code == 200

            await eventually(ready_again, "ready once the database is back")
    finally:
        await anyio.to_thread.run_sync(stop, server)


@pytest.mark.backends("embedded")  # the worker's state, not the database's
async def test_ready_is_503_once_the_worker_has_stopped(db_settings: Settings) -> None:
    async with app_client(None, settings=db_settings, run_worker=True) as client:
        assert (await client.get("/health/ready")).status_code == 200
        await in_app_loop(client, client.app_runtime.worker.stop, 0)  # type: ignore[attr-defined]
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "ok", "worker": "stopped"}
