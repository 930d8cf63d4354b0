"""Faults on demand through real HTTP: two `payflow serve` processes on one database.

For every fault: what a client sees (a status, or a connection error from httpx) and
what the database then holds, read with the driver. After-commit faults lose only the
answer: the retry with the same Idempotency-Key gets the replay. Fault rules live in
the database, so a rule made through one process applies in the other, and a counted
rule fires exactly `count` times across both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from payflow.database_process import embedded_server, free_port
from tests.e2e.conftest import Served, start, stop
from tests.waiting import eventually_sync

pytestmark = pytest.mark.e2e

HOLD_SECONDS = 1  # [faults] timeout_seconds of these processes
REFRESH_SECONDS = 0.2  # [faults] refresh_seconds: how stale another process's rules may be
CLIENT_TIMEOUT = 30.0  # longer than the hold: the client sees the close, not its own timeout


@dataclass
class Pair:
    a: Served
    b: Served
    db: Database[dict[str, Any]]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("faults")
    with (
        embedded_server(tmp / "db") as server,
        MongoClient[dict[str, Any]](server.uri, directConnection=True) as client,
    ):
        env = {
            "PAYFLOW_MONGO__URI": server.uri,
            "PAYFLOW_MONGO__DATABASE": "faults",
            "PAYFLOW_FAULTS__TIMEOUT_SECONDS": str(HOLD_SECONDS),
            "PAYFLOW_FAULTS__REFRESH_SECONDS": str(REFRESH_SECONDS),
            "PAYFLOW_FAULTS__SEED": "7",
        }
        served: list[Served] = []
        try:
            for name in ("a", "b"):
                (tmp / name).mkdir()
                served.append(start(tmp / name, free_port(), env))
            yield Pair(served[0], served[1], client["faults"])
        finally:
            for one in served:
                stop(one)


def create_order(served: Served, number: str, key: str, fault: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    if fault is not None:
        headers["Payflow-Fault"] = fault
    body = f'{{"orderNumber":"{number}","amount":12.50}}'.encode()
    return httpx.post(
        f"{served.base_url}/api/orders", headers=headers, content=body, timeout=CLIENT_TIMEOUT
    )


def orders_numbered(pair: Pair, number: str) -> int:
    return pair.db.orders.count_documents({"orderNumber": number})


def key_record(pair: Pair, key: str) -> dict[str, Any] | None:
    return pair.db.idempotency.find_one({"_id": f"global {key}"})


def injected(served: Served, fault: str) -> float:
    metrics = httpx.get(f"{served.base_url}/metrics").text
    match = re.search(rf'^payflow_faults_injected_total\{{fault="{fault}"\}} (\S+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


def assert_fault_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/fault-injected"


# Before the request runs: nothing is written, the key stays free.


def test_error_500_answers_a_problem_and_writes_nothing(pair: Pair) -> None:
    response = create_order(pair.a, "F-500", "k-500", "error-500")
    assert_fault_problem(response, 500)
    assert orders_numbered(pair, "F-500") == 0
    assert key_record(pair, "k-500") is None
    assert injected(pair.a, "error-500") >= 1


def test_error_503_says_when_to_retry_and_writes_nothing(pair: Pair) -> None:
    response = create_order(pair.a, "F-503", "k-503", "error-503")
    assert_fault_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert orders_numbered(pair, "F-503") == 0
    retried = create_order(pair.a, "F-503", "k-503")
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers  # executed now, not replayed
    assert orders_numbered(pair, "F-503") == 1


def test_reset_drops_the_connection_and_writes_nothing(pair: Pair) -> None:
    with pytest.raises(httpx.ReadError, match="reset"):
        create_order(pair.a, "F-RST", "k-rst", "reset")
    assert orders_numbered(pair, "F-RST") == 0
    assert key_record(pair, "k-rst") is None
    assert injected(pair.a, "reset") >= 1


def test_timeout_holds_then_closes_unanswered_and_writes_nothing(pair: Pair) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        create_order(pair.a, "F-TMO", "k-tmo", "timeout")
    assert orders_numbered(pair, "F-TMO") == 0
    assert key_record(pair, "k-tmo") is None


def test_a_client_timeout_shorter_than_the_hold_sees_its_own_timeout(pair: Pair) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            f"{pair.a.base_url}/api/orders",
            headers={"Payflow-Fault": "timeout"},
            timeout=httpx.Timeout(CLIENT_TIMEOUT, read=HOLD_SECONDS / 10),
        )


def test_slow_answers_normally(pair: Pair) -> None:
    response = create_order(pair.a, "F-SLOW", "k-slow", "slow=150")
    assert response.status_code == 201
    assert orders_numbered(pair, "F-SLOW") == 1
    assert injected(pair.a, "slow") >= 1


def test_an_unknown_fault_is_a_validation_error(pair: Pair) -> None:
    response = create_order(pair.a, "F-BAD", "k-bad", "explode")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert problem["errors"][0]["field"] == "Payflow-Fault"
    assert orders_numbered(pair, "F-BAD") == 0


# After the commit: the request took effect, only the answer is lost; the retry replays.


@pytest.mark.parametrize(
    ("fault", "error"),
    [("after-commit:reset", httpx.ReadError), ("after-commit:timeout", httpx.RemoteProtocolError)],
)
def test_after_commit_connection_faults_lose_the_answer_and_the_retry_replays(
    pair: Pair, fault: str, error: type[httpx.HTTPError]
) -> None:
    number, key = f"F-{fault.split(':')[1].upper()}", f"k-{fault}"
    with pytest.raises(error):
        create_order(pair.a, number, key, fault)
    assert orders_numbered(pair, number) == 1  # it took effect
    retried = create_order(pair.b, number, key)  # the other process, the same database
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["orderNumber"] == number
    assert orders_numbered(pair, number) == 1  # one order, not two


def test_after_commit_error_500_loses_the_answer_and_the_retry_replays(pair: Pair) -> None:
    response = create_order(pair.a, "F-AC500", "k-ac500", "after-commit:error-500")
    assert_fault_problem(response, 500)
    assert orders_numbered(pair, "F-AC500") == 1
    order = pair.db.orders.find_one({"orderNumber": "F-AC500"})
    assert order is not None
    assert order["idempotency"]["key"] == "k-ac500"  # the order keeps the key's use,
    retried = create_order(pair.a, "F-AC500", "k-ac500")  # so the retry is a replay
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert orders_numbered(pair, "F-AC500") == 1


# Fault rules: in the database, applied by every process, counted across processes.


def add_rule(served: Served, key: str, **rule: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{served.base_url}/api/faults", headers={"Idempotency-Key": key}, json=rule
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def delete_rule(served: Served, rule_id: str) -> None:
    assert httpx.delete(f"{served.base_url}/api/faults/{rule_id}").status_code == 200


def test_a_counted_rule_fires_exactly_count_times_across_two_processes(pair: Pair) -> None:
    rule = add_rule(
        pair.a, "rule-1", method="POST", path="/api/orders", fault="error-503", rate=1, count=3
    )
    assert rule["id"].startswith("flt_")
    assert (rule["remaining"], rule["injected"]) == (3, 0)

    def b_applies_it() -> bool:  # b re-reads the rules within its refresh interval
        return create_order(pair.b, "F-R0", "k-r0").status_code == 503

    eventually_sync(b_applies_it, "process b applying a rule made through process a")
    statuses = [
        create_order(pair.a if n % 2 else pair.b, f"F-R{n}", f"k-r{n}").status_code
        for n in range(1, 9)
    ]
    assert statuses.count(503) == 2  # 3 in all, b_applies_it took the first
    assert statuses.count(201) == 6
    stored = pair.db.faults.find_one({"_id": rule["id"]})
    assert stored is not None
    assert (stored["remaining"], stored["injected"]) == (0, 3)
    listed = httpx.get(f"{pair.a.base_url}/api/faults").json()
    assert [(r["id"], r["injected"]) for r in listed] == [(rule["id"], 3)]
    delete_rule(pair.a, rule["id"])
    assert pair.db.faults.count_documents({}) == 0


def test_a_rule_applies_to_its_method_and_glob_only(pair: Pair) -> None:
    rule = add_rule(pair.a, "rule-2", method="GET", path="/api/orders/G-*", fault="reset", rate=1)
    try:
        assert create_order(pair.a, "G-1", "k-g1").status_code == 201  # POST: not the method
        with pytest.raises(httpx.ReadError):
            httpx.get(f"{pair.a.base_url}/api/orders/G-1")
        assert httpx.get(f"{pair.a.base_url}/api/orders/F-SLOW").status_code == 200
        assert httpx.get(f"{pair.a.base_url}/api/faults").status_code == 200  # never faulted
    finally:
        delete_rule(pair.a, rule["id"])
