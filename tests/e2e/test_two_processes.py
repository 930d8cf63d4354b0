"""Two `payflow serve` processes on one database, under load: every order is processed
once, every webhook sent once, every payment applied once — whichever process does it."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from payflow.database_process import free_port
from tests.e2e.conftest import Served, start, stop
from tests.waiting import eventually_sync

pytestmark = pytest.mark.e2e

ORDERS = 120
DECLINED = ORDERS // 10  # every tenth order uses a declining card
SETTLE_DEADLINE_SECONDS = 90.0  # an upper bound for a condition, not a timing assertion


def create(served: Served, n: int) -> int:
    method = "pm_card_chargeDeclined" if n % 10 == 0 else "pm_card_visa"
    body = f'{{"orderNumber":"TWO-{n}","amount":{n + 1}.25,"paymentMethod":"{method}"}}'
    response = httpx.post(
        f"{served.base_url}/api/orders",
        headers={"Idempotency-Key": f"two-{n}"},
        content=body.encode(),
        timeout=30,
    )
    return response.status_code


def counter_sum(metrics: str, name: str) -> float:
    pattern = re.compile(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(value) for value in pattern.findall(metrics))


def test_two_processes_on_one_database_process_and_deliver_each_order_once(
    tmp_path: Path, database_uri: str
) -> None:
    database = f"two_{uuid.uuid4().hex[:12]}"
    with MongoClient[dict[str, Any]](database_uri) as client:
        env = {"PAYFLOW_MONGO__URI": database_uri, "PAYFLOW_MONGO__DATABASE": database}
        db = client[database]
        both: list[Served] = []
        try:
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                both.append(start(tmp_path / name, free_port(), env))
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda n: create(both[n % 2], n), range(ORDERS)))
            assert statuses == [201] * ORDERS

            def settled() -> list[str] | None:
                # No order Pending, every receipt written (each follows its update), and
                # every delivery counted (a sender counts one once its answer is back).
                pending = db.orders.count_documents({"status": "Pending"})
                if pending or db.payments.count_documents({}) < ORDERS:
                    return None
                metrics = [httpx.get(f"{s.base_url}/metrics").text for s in both]
                sent = sum(counter_sum(m, "payflow_webhook_deliveries_total") for m in metrics)
                return metrics if sent >= ORDERS else None

            metrics = eventually_sync(
                settled, "every order settled", within=SETTLE_DEADLINE_SECONDS, every=0.2
            )
        finally:
            for served in both:
                stop(served)

        orders = list(db.orders.find({}))
        assert len(orders) == ORDERS
        assert Counter(o["status"] for o in orders) == {
            "Paid": ORDERS - DECLINED,
            "Failed": DECLINED,
        }
        assert {(o["processing"]["state"], o["processing"]["attempts"]) for o in orders} == {
            ("done", 1)
        }  # claimed once each: no order was processed twice
        deliveries = list(db.deliveries.find({}))
        assert len(deliveries) == ORDERS
        assert {(d["state"], d["attempts"], len(d["log"])) for d in deliveries} == {
            ("succeeded", 1, 1)
        }  # sent once each
        receipts = Counter((r["eventId"], r["outcome"]) for r in db.payments.find({}))
        assert len(receipts) == ORDERS
        assert set(receipts.values()) == {1}
        assert {outcome for _, outcome in receipts} == {"applied"}

        processed = [counter_sum(m, "payflow_orders_processed_total") for m in metrics]
        assert sum(processed) == ORDERS
        assert all(count > 0 for count in processed)  # both processes took a share
        sent = [counter_sum(m, "payflow_webhook_deliveries_total") for m in metrics]
        assert sum(sent) == ORDERS
