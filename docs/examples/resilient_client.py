"""A payflow client that survives payflow's faults: retries with backoff and a circuit breaker.

    python docs/examples/resilient_client.py --api http://127.0.0.1:8000

Retries come from `stamina` (exponential backoff with jitter, bounded attempts and
time), the circuit breaker from `pybreaker`; nothing here is a hand-written retry loop.
The script puts fault rules on the payflow it talks to (`POST /api/faults`), creates
orders through them, and deletes its rules at the end:

1. flaky: a share of order creations lose their answer after the order was created
   (`after-commit:reset`), others are refused with 503 or reset before anything happens;
2. outage: the next order creations all answer 503; the breaker opens after 5 failures
   in a row, so attempts fail fast without a request until a probe gets through.

Every attempt for one order carries the same Idempotency-Key, so a retry after a lost
answer gets the replay (`Idempotent-Replayed: true`): each order exists exactly once.
Start payflow with `PAYFLOW_FAULTS__SEED=42` for the same faults on every run.
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter
from typing import Any

import httpx
import pybreaker
import stamina

FLAKY_RULES = [
    {"method": "POST", "path": "/api/orders", "fault": "after-commit:reset", "rate": 0.3},
    {"method": "POST", "path": "/api/orders", "fault": "error-503", "rate": 0.2},
    {"method": "POST", "path": "/api/orders", "fault": "reset", "rate": 0.1},
]
OUTAGE_RULE = {"method": "POST", "path": "/api/orders", "fault": "error-503", "rate": 1, "count": 8}


class Retryable(Exception):
    """An answer worth retrying: 5xx, 429, or 409 while the first attempt still runs."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.status = response.status_code


class Announce(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old: Any, new: Any) -> None:
        print(f"  circuit {old.name} -> {new.name}")


# The error that trips the breaker is raised as itself, so only calls refused while the
# circuit is open show up as `CircuitBreakerError`.
breaker = pybreaker.CircuitBreaker(
    fail_max=5, reset_timeout=2.0, listeners=[Announce()], throw_new_error_on_trip=False
)
tally: Counter[str] = Counter()


def send_once(http: httpx.Client, number: str, key: str) -> httpx.Response:
    tally["requests sent"] += 1
    response = http.post(
        "/api/orders",
        headers={"Idempotency-Key": key},
        json={"orderNumber": number, "amount": 25.00},
    )
    in_progress = response.status_code == 409 and response.json()["type"].endswith(
        "/idempotency-in-progress"
    )
    if response.status_code >= 500 or response.status_code == 429 or in_progress:
        raise Retryable(response)
    return response


def what_went_wrong(exc: Exception) -> str:
    if isinstance(exc, pybreaker.CircuitBreakerError):
        return "failed fast"  # the circuit is open: no request sent
    if isinstance(exc, Retryable):
        return str(exc)
    return "reset" if isinstance(exc, httpx.ReadError) else type(exc).__name__


def create_order(http: httpx.Client, number: str) -> httpx.Response:
    key = f"order-{number}"  # one key for every attempt of this order
    troubles: list[str] = []
    for attempt in stamina.retry_context(
        on=(httpx.TransportError, Retryable, pybreaker.CircuitBreakerError),
        attempts=30,
        timeout=60.0,
        wait_initial=0.05,
        wait_max=1.0,
    ):
        with attempt:
            try:
                response: httpx.Response = breaker.call(send_once, http, number, key)
            except Exception as exc:
                troubles.append(what_went_wrong(exc))
                tally[what_went_wrong(exc)] += 1
                raise
            replayed = response.headers.get("idempotent-replayed") == "true"
            tally["answers replayed"] += replayed
            note = f" after {', '.join(troubles)}" if troubles else ""
            print(f"{number}: {response.status_code}{' (replayed)' if replayed else ''}{note}")
            return response
    raise AssertionError("stamina raises once attempts or time run out")


def add_rules(http: httpx.Client, rules: list[dict[str, Any]]) -> list[str]:
    ids = []
    for rule in rules:
        created = http.post("/api/faults", headers={"Idempotency-Key": uuid.uuid4().hex}, json=rule)
        created.raise_for_status()
        ids.append(created.json()["id"])
        print(f"  rule {created.json()['id']}: {rule['fault']} at rate {rule['rate']}")
    return ids


def delete_rules(http: httpx.Client, ids: list[str]) -> None:
    for rule_id in ids:
        http.delete(f"/api/faults/{rule_id}").raise_for_status()


def main() -> None:
    stamina.instrumentation.set_on_retry_hooks([])  # this script prints its own lines
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--orders", type=int, default=12)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6].upper()
    numbers = [f"RES-{run}-{n}" for n in range(1, 2 * args.orders + 1)]
    with httpx.Client(base_url=args.api, timeout=10.0) as http:
        print("flaky: some answers lost after commit, some refused or reset before")
        rules = add_rules(http, FLAKY_RULES)
        for number in numbers[: args.orders]:
            create_order(http, number)
        delete_rules(http, rules)
        print("outage: every creation refused until the rule's count runs out")
        rules = add_rules(http, [OUTAGE_RULE])
        for number in numbers[args.orders :]:
            create_order(http, number)
        delete_rules(http, rules)
        found = [http.get(f"/api/orders/{n}").status_code for n in numbers]
    print(
        f"{found.count(200)} of {len(numbers)} orders in payflow, each once. "
        f"{tally['requests sent']} requests sent: {tally['HTTP 503']} answered 503, "
        f"{tally['reset']} reset ({tally['answers replayed']} after the order was made: "
        f"replayed on retry); {tally['failed fast']} attempts failed fast, circuit open"
    )


if __name__ == "__main__":
    main()
