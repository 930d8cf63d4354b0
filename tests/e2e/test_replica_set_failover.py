"""A replica-set failover under load: the primary `mongod` is killed (SIGKILL) while two
payflow processes take a steady stream of orders, and the books still balance.

The client is a careful one: a connection error or a 5xx (503 `service-unavailable`
while there is no primary) is retried with the same Idempotency-Key, after the
`Retry-After` the answer gave, until it gets a 201. At the end every accepted order is
there (nothing lost), final as its card says, and paid exactly once: one event, one
delivery and one `applied` receipt per order. The figures (accepted, lost, paid twice,
errors seen before a retry succeeded, time to recover) are printed for the report.

The set is this test's own (it loses a member), not the session's.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from payflow.database_process import free_port
from tests.e2e.conftest import Served, start, stop
from tests.replica_set import ReplicaSet, replica_set
from tests.waiting import eventually_sync

pytestmark = pytest.mark.e2e

CLIENTS = 6  # concurrent clients, each sending one order after another
BEFORE_KILL = 40  # orders accepted before the primary is killed
AFTER_KILL = 40  # orders accepted after it
GIVE_UP_SECONDS = 90.0  # upper bounds for conditions, not timing assertions
SETTLE_DEADLINE_SECONDS = 120.0
MAX_BACKOFF_SECONDS = 1.0
DECLINED_EVERY = 10  # every tenth order uses a declining card


@dataclass
class Books:
    """What the clients saw."""

    accepted: dict[str, str] = field(default_factory=dict)  # orderNumber → card
    errors: Counter[str] = field(default_factory=Counter)  # before a retry succeeded
    abandoned: list[str] = field(default_factory=list)
    killed_at: float | None = None
    accepted_at_kill: int = 0
    first_201_after_kill: float | None = None  # to a request sent after the kill
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kill_now(self) -> None:
        with self.lock:
            self.killed_at = time.monotonic()
            self.accepted_at_kill = len(self.accepted)

    def count_error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1

    def since_kill(self) -> int:
        return len(self.accepted) - self.accepted_at_kill


def create(client: httpx.Client, number: str, card: str, books: Books) -> None:
    """POST until a 201, with the same key every time, as a careful client does."""
    body = f'{{"orderNumber":"{number}","amount":12.34,"paymentMethod":"{card}"}}'
    headers = {"Idempotency-Key": f"key-{number}"}
    started = time.monotonic()
    attempt = 0
    while time.monotonic() - started < GIVE_UP_SECONDS:
        attempt += 1
        sent_at = time.monotonic()
        try:
            response = client.post("/api/orders", headers=headers, content=body)
        except httpx.TransportError as exc:
            books.count_error(type(exc).__name__)
            time.sleep(min(MAX_BACKOFF_SECONDS, 0.05 * 2**attempt))
            continue
        if response.status_code == 201:
            with books.lock:
                books.accepted[number] = card
                after_kill = books.killed_at is not None and sent_at > books.killed_at
                if after_kill and books.first_201_after_kill is None:
                    books.first_201_after_kill = time.monotonic()
            return
        retryable = response.status_code >= 500 or response.status_code == 409
        assert retryable, response.text  # a 409 here is only ever "in progress"
        books.count_error(f"{response.status_code} {problem_slug(response)}")
        wait = float(response.headers.get("retry-after", 0))
        time.sleep(max(wait, min(MAX_BACKOFF_SECONDS, 0.05 * 2**attempt)))
    with books.lock:
        books.abandoned.append(number)


def problem_slug(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return response.text[:80]


@contextlib.contextmanager
def steady_load(processes: list[Served], books: Books) -> Iterator[None]:
    """CLIENTS clients sending orders for the life of the block; on leaving it, no new
    order is sent and every create already sent is seen through."""
    stop_load = threading.Event()

    def client_loop(n: int) -> None:
        with httpx.Client(base_url=processes[n % 2].base_url, timeout=30) as client:
            sent = 0
            while not stop_load.is_set():
                number = f"FO-{n}-{sent}"
                declined = (n * 1000 + sent) % DECLINED_EVERY == 0
                card = "pm_card_chargeDeclined" if declined else "pm_card_visa"
                create(client, number, card, books)
                sent += 1

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(client_loop, n) for n in range(CLIENTS)]
        try:
            yield
        finally:
            stop_load.set()
            for future in futures:
                future.result()


@pytest.fixture
def own_replica_set(tmp_path: Path) -> Iterator[ReplicaSet]:
    with replica_set(tmp_path / "rs") as started:
        yield started


def test_killing_the_primary_under_load_loses_no_order_and_pays_none_twice(
    tmp_path: Path, own_replica_set: ReplicaSet
) -> None:
    rs = own_replica_set
    name = f"failover_{uuid.uuid4().hex[:8]}"
    env = {
        "PAYFLOW_MONGO__URI": rs.uri,
        "PAYFLOW_MONGO__DATABASE": name,
        # Work a process held when its writes failed comes back within seconds.
        "PAYFLOW_PROCESSING__LEASE_SECONDS": "10",
        "PAYFLOW_WEBHOOKS__TIMEOUT_SECONDS": "5",
        "PAYFLOW_PROCESSING__RETRY_MAX_SECONDS": "2",
        "PAYFLOW_IDEMPOTENCY__LEASE_SECONDS": "10",
    }
    processes: list[Served] = []
    books = Books()
    try:
        for process in ("a", "b"):
            (tmp_path / process).mkdir()
            processes.append(start(tmp_path / process, free_port(), env))
        with steady_load(processes, books):
            eventually_sync(
                lambda: len(books.accepted) >= BEFORE_KILL,
                "orders before the kill",
                within=GIVE_UP_SECONDS,
            )
            old_primary = rs.wait_for_primary()
            books.kill_now()
            old_primary.kill()
            new_primary = rs.wait_for_primary()
            elected_after = time.monotonic() - (books.killed_at or 0)
            eventually_sync(
                lambda: books.since_kill() >= AFTER_KILL,
                "orders after the failover",
                within=GIVE_UP_SECONDS,
            )

        with MongoClient[dict[str, Any]](rs.uri) as mongo:
            db = mongo[name]

            def settled() -> bool:
                final = db.orders.count_documents({"status": {"$in": ["Paid", "Failed"]}})
                applied = db.payments.count_documents({"outcome": "applied"})
                return final >= len(books.accepted) and applied >= len(books.accepted)

            with contextlib.suppress(AssertionError):  # the books below say what is missing
                eventually_sync(
                    settled, "every order settled", within=SETTLE_DEADLINE_SECONDS, every=0.5
                )
            orders = {o["orderNumber"]: o for o in db.orders.find({})}
            applied = Counter(r["orderNumber"] for r in db.payments.find({"outcome": "applied"}))
            events = Counter(e["orderNumber"] for e in db.events.find({}))
            deliveries = Counter(d["eventId"] for d in db.deliveries.find({}))
    finally:
        for served in processes:
            if served.process.poll() is None:
                stop(served)

    lost = [n for n in books.accepted if n not in orders]
    unsettled = {
        n: (orders[n]["status"], orders[n]["processing"], applied[n])
        for n in books.accepted
        if n in orders and (orders[n]["status"] not in ("Paid", "Failed") or applied[n] == 0)
    }
    paid_twice = [n for n in books.accepted if applied[n] > 1]
    wrong = [
        n
        for n, card in books.accepted.items()
        if n in orders and orders[n]["status"] != ("Paid" if card == "pm_card_visa" else "Failed")
    ]
    assert books.first_201_after_kill is not None
    recovered_after = books.first_201_after_kill - (books.killed_at or 0)
    print(  # the figures for the report (pytest -s shows them)
        f"\nfailover: killed primary {old_primary.address}, new primary {new_primary.address} "
        f"elected after {elected_after:.1f} s; first 201 to a request sent after the kill "
        f"{recovered_after:.1f} s after it; "
        f"accepted {len(books.accepted)} ({books.accepted_at_kill} before the kill); "
        f"lost {len(lost)}; paid twice {len(paid_twice)}; wrong outcome {len(wrong)}; "
        f"unsettled {len(unsettled)}; "
        f"abandoned {len(books.abandoned)}; errors seen before a retry succeeded "
        f"{sum(books.errors.values())} {dict(books.errors)}"
    )
    assert books.abandoned == []
    assert [e for e in books.errors if e.startswith("500")] == []  # unavailable is a 503
    assert lost == []
    assert paid_twice == []
    assert wrong == []
    assert unsettled == {}
    assert set(orders) == set(books.accepted)  # nothing the clients did not see accepted
    assert {n: applied[n] for n in books.accepted if applied[n] != 1} == {}
    assert {n: events[n] for n in books.accepted if events[n] != 1} == {}  # one event each
    assert {e: n for e, n in deliveries.items() if n != 1} == {}  # one delivery per event
    assert len(deliveries) == len(books.accepted)
