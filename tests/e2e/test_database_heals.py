"""The embedded database SIGKILLed under payflow: payflow restarts it on the same data and
carries on (DESIGN §8), and the books stay right; a database that cannot come back makes
payflow exit non-zero, saying why."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest

from payflow.database_process import free_port
from tests.e2e.conftest import Served, alive, children, start, stop
from tests.waiting import eventually_sync

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the database's pid"),
]

KILLS = 3
ORDERS_PER_ROUND = 10  # accepted between two kills, so every kill lands under load
READY_DEADLINE_SECONDS = 60.0  # upper bounds for conditions, never timing assertions
PAID_DEADLINE_SECONDS = 90.0
EXIT_DEADLINE_SECONDS = 60.0
MAX_ORDERS = 400
MAX_TRIES = 200
LOAD_INTERVAL_SECONDS = 0.05
# Short leases and retries: work held when the database died comes back within seconds.
HEALING_ENV = {
    "PAYFLOW_PROCESSING__LEASE_SECONDS": "4",
    "PAYFLOW_WEBHOOKS__TIMEOUT_SECONDS": "3",
    "PAYFLOW_IDEMPOTENCY__LEASE_SECONDS": "3",
    "PAYFLOW_PROCESSING__RETRY_MAX_SECONDS": "2",
}


@dataclass
class OrderLoad:
    """A careful client creating orders one after another until stopped: a create that
    meets a 5xx, a connection error or a 409 in progress is sent again with the same key."""

    base_url: str
    accepted: dict[str, str] = field(default_factory=dict)  # orderNumber → order id
    statuses: Counter[int] = field(default_factory=Counter)  # every answer seen
    failures: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            for n in range(MAX_ORDERS):
                if self.stopped.is_set():
                    return
                self._create(client, f"HEAL-{n}")
                self.stopped.wait(LOAD_INTERVAL_SECONDS)

    def has_accepted(self, count: int) -> bool:
        return len(self.accepted) >= count

    def _create(self, client: httpx.Client, number: str) -> None:
        body = {"orderNumber": number, "amount": 12.5}
        headers = {"Idempotency-Key": f"heal-{number}"}
        for attempt in range(MAX_TRIES):
            try:
                response = client.post("/api/orders", json=body, headers=headers)
            except httpx.HTTPError:
                time.sleep(min(0.05 * 2**attempt, 1.0))  # the client's backoff
                continue
            self.statuses[response.status_code] += 1
            if response.status_code == 201:
                self.accepted[number] = response.json()["id"]
                return
            if response.status_code == 503 or response.status_code == 409:
                # `service-unavailable` and `idempotency-in-progress` both say when.
                time.sleep(float(response.headers.get("Retry-After", "1")) / 4)
                continue
            self.failures.append(f"{number}: {response.status_code} {response.text[:300]}")
            return
        self.failures.append(f"{number}: no answer after {MAX_TRIES} tries")


def database_of(served: Served) -> int:
    (database,) = children(served.process.pid)
    return database


def ready_again(served: Served, killed: int) -> bool:
    if served.process.poll() is not None:
        raise AssertionError(f"payflow exited:\n{served.output()}")
    if any(pid == killed or not alive(pid) for pid in children(served.process.pid)):
        return False
    try:
        return httpx.get(f"{served.base_url}/health/ready", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_database_is_restarted_each_time_and_every_accepted_order_is_paid_once(
    tmp_path: Path,
) -> None:
    served = start(tmp_path, free_port(), HEALING_ENV)
    load = OrderLoad(served.base_url)
    client = threading.Thread(target=load.run, daemon=True)
    client.start()
    try:
        for kill in range(1, KILLS + 1):
            enough = ORDERS_PER_ROUND * kill
            eventually_sync(
                partial(load.has_accepted, enough),
                f"{enough} orders accepted",
                within=READY_DEADLINE_SECONDS,
            )
            database = database_of(served)
            killed_at = time.monotonic()
            os.kill(database, signal.SIGKILL)
            eventually_sync(
                partial(ready_again, served, database),
                f"/health/ready after kill {kill}",
                within=READY_DEADLINE_SECONDS,
            )
            print(
                f"kill {kill}: /health/ready 200 again after {time.monotonic() - killed_at:.2f} s"
            )
        load.stopped.set()
        client.join(READY_DEADLINE_SECONDS)
        assert not client.is_alive()
        assert load.failures == []
        assert 500 not in load.statuses  # an outage is a 503 with Retry-After, never a 500
        assert len(load.accepted) >= KILLS * ORDERS_PER_ROUND

        with httpx.Client(base_url=served.base_url, timeout=10) as api:

            def all_paid() -> bool:
                statuses = {api.get(f"/api/orders/{n}").json()["status"] for n in load.accepted}
                return statuses == {"Paid"}

            eventually_sync(all_paid, "every accepted order Paid", within=PAID_DEADLINE_SECONDS)
            for number, order_id in load.accepted.items():
                assert api.get(f"/api/orders/{number}").json()["id"] == order_id
                succeeded = api.get(
                    "/api/events",
                    params={"orderNumber": number, "type": "payment.succeeded"},
                ).json()
                assert len(succeeded) == 1, number

                def receipts(n: str = number) -> list[str] | None:
                    # The receiver moves the order first and writes its receipt right after.
                    trail = api.get(f"/api/orders/{n}/events").json()
                    outcomes = [receipt["outcome"] for receipt in trail]
                    return outcomes if "applied" in outcomes else None

                outcomes = eventually_sync(receipts, f"the receipt of {number}")
                assert outcomes.count("applied") == 1, number
        print(f"accepted {len(load.accepted)}, answers seen {dict(load.statuses)}")
    finally:
        load.stopped.set()
        if served.process.poll() is None:
            stop(served)


def test_a_database_that_cannot_come_back_makes_payflow_exit_non_zero_saying_why(
    tmp_path: Path,
) -> None:
    served = start(tmp_path, free_port(), {})
    database = database_of(served)
    lock_file = served.data_dir / "WiredTiger.lock"
    taken = threading.Event()

    def take_the_storage_lock() -> None:
        # Another process takes the data directory the moment the server lets go of it,
        # so every restart finds it in use.
        with lock_file.open("rb+") as held:
            fcntl.lockf(held, fcntl.LOCK_EX)  # waits for the server to die
            taken.set()
            served.process.wait(EXIT_DEADLINE_SECONDS)

    holder = threading.Thread(target=take_the_storage_lock, daemon=True)
    holder.start()
    try:
        eventually_sync(lambda: holder.is_alive(), "the lock holder to wait")
        os.kill(database, signal.SIGKILL)
        code = served.process.wait(EXIT_DEADLINE_SECONDS)
        assert taken.is_set()
        assert code != 0
        output = served.output()
        assert "payflow: stopping: the embedded database died and 5 restarts" in output
        assert "is in use by process" in output
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
        holder.join(EXIT_DEADLINE_SECONDS)
