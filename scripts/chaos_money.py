"""`scripts/chaos --mode money`: SIGKILLs under wallet-funded manual-capture orders that are
captured, canceled, both at once, or left to expire; then the books.

Customers with their opening balances, orders, captures and cancels go through the HTTP
API like any client's, each retried with its own Idempotency-Key until answered. The
books are read through payflow's store on the run's database (the embedded server
listens on a fixed port in this mode): every entry of every wallet. What must hold at the end:
- no money created or lost: for each customer, available + reserved == the sum of the
  ledger == the opening balance - what the Paid orders' captures took;
- no hold left behind: reserved == 0 everywhere, no order left Pending or Authorized;
- no order captured twice, nor captured and canceled: at most one `capture` ledger entry
  per order, and a capture and a cancel of one order never both answered 200;
- every answer agrees with the end state: a 200 capture → Paid with that amount, a 200
  cancel → Canceled.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from motor.motor_asyncio import AsyncIOMotorClient

from payflow.domain.wallets import ledger_totals
from payflow.store.mongo import MongoStore

CUSTOMERS = 5
OPENING_MINOR = 50_000  # 500.00 each: roughly one order in four finds its wallet short
AUTHORIZATION_HOURS = 0.002  # 7.2 s: orders left alone expire during the run
GIVE_UP_SECONDS = 180.0
MAX_IN_FLIGHT = 24
RETRYABLE = ("idempotency-in-progress", "service-unavailable")


@dataclass
class MoneyTally:
    customers: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # orderNumber → customer
    amounts: dict[str, int] = field(default_factory=dict)
    plans: Counter[str] = field(default_factory=Counter)
    captured: dict[str, int] = field(default_factory=dict)  # a 200 capture: minor taken
    canceled: set[str] = field(default_factory=set)  # a 200 cancel
    refused: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    retried_requests: int = 0
    in_flight: int = 0


def database_uri(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


async def open_wallets(client: httpx.AsyncClient, seed: int, tally: MoneyTally) -> None:
    """Create the customers with their opening balances (`POST /api/customers`)."""
    rng = random.Random(seed + 1)  # noqa: S311 - chaos, not cryptography
    body = f'{{"balances":{{"USD":{OPENING_MINOR // 100}.{OPENING_MINOR % 100:02d}}}}}'
    for n in range(CUSTOMERS):
        created = await send(client, "/api/customers", body, f"customer-{seed}-{n}", tally, rng)
        if created is None or created.status_code != 201:
            answer = "no answer" if created is None else f"{created.status_code} {created.text}"
            raise RuntimeError(f"could not create customer {n}: {answer}")
        tally.customers.append(str(created.json()["id"]))


async def send(
    client: httpx.AsyncClient,
    path: str,
    body: str,
    key: str,
    tally: MoneyTally,
    rng: random.Random,
) -> httpx.Response | None:
    """POST with the same key until payflow answers something final (None: gave up)."""
    started = time.monotonic()
    retries = 0
    while time.monotonic() - started < GIVE_UP_SECONDS:
        backoff = min(2.0, 0.1 * 2**retries) * rng.uniform(0.5, 1.0)
        if retries:
            tally.retried_requests += 1
        retries += 1
        try:
            response = await client.post(path, headers={"Idempotency-Key": key}, content=body)
        except httpx.HTTPError:
            await anyio.sleep(backoff)
            continue
        if response.status_code >= 500 or problem_slug(response) in RETRYABLE:
            await anyio.sleep(max(backoff, float(response.headers.get("retry-after", 0))))
            continue
        return response
    return None


def problem_slug(response: httpx.Response) -> str:
    """The slug of a problem+json answer ('' for anything else)."""
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


async def read_order(client: httpx.AsyncClient, number: str) -> dict[str, Any] | None:
    try:
        response = await client.get(f"/api/orders/{number}")
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


async def one_order(
    client: httpx.AsyncClient, number: str, tally: MoneyTally, rng: random.Random
) -> None:
    """Create, wait for the authorization, then capture / cancel / both / nothing."""
    customer = rng.choice(tally.customers)
    minor = rng.randint(100, 6_000)
    body = (
        f'{{"orderNumber":"{number}","amount":{minor // 100}.{minor % 100:02d},'
        f'"customer":"{customer}","paymentMethod":"balance","captureMethod":"manual"}}'
    )
    created = await send(client, "/api/orders", body, f"create-{number}", tally, rng)
    if created is None:
        tally.abandoned.append(number)
        return
    if created.status_code != 201:
        tally.refused.append(f"{number}: create {created.status_code} {created.text[:200]}")
        return
    tally.accepted[number] = customer
    tally.amounts[number] = minor
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        order = await read_order(client, number)
        if order is not None and order["status"] != "Pending":
            break
        await anyio.sleep(0.2)
    else:
        return
    if order["status"] != "Authorized":
        return  # failed (the wallet was short) or already expired
    plan = rng.choice(["capture", "partial", "cancel", "race", "expire"])
    tally.plans[plan] += 1
    if plan == "expire":
        return
    captured = minor if plan != "partial" else rng.randint(1, minor)
    capture_body = (
        "{}" if captured == minor else f'{{"amount":{captured // 100}.{captured % 100:02d}}}'
    )

    async def capture() -> None:
        answer = await send(
            client, f"/api/orders/{number}/capture", capture_body, f"capture-{number}", tally, rng
        )
        if answer is not None and answer.status_code == 200:
            tally.captured[number] = captured

    async def cancel() -> None:
        answer = await send(
            client, f"/api/orders/{number}/cancel", "{}", f"cancel-{number}", tally, rng
        )
        if answer is not None and answer.status_code == 200:
            tally.canceled.add(number)

    async with anyio.create_task_group() as actions:
        if plan in ("capture", "partial", "race"):
            actions.start_soon(capture)
        if plan in ("cancel", "race"):
            actions.start_soon(cancel)


async def money_load(
    client: httpx.AsyncClient, rate: float, seed: int, tally: MoneyTally, stop: anyio.Event
) -> None:
    rng = random.Random(seed + 2)  # noqa: S311 - chaos, not cryptography
    slots = anyio.Semaphore(MAX_IN_FLIGHT)

    async def one(number: str) -> None:
        tally.in_flight += 1
        try:
            await one_order(client, number, tally, rng)
        finally:
            tally.in_flight -= 1
            slots.release()

    async with anyio.create_task_group() as orders:
        n = 0
        while not stop.is_set():
            await slots.acquire()
            orders.start_soon(one, f"MC-{seed}-{n}")
            n += 1
            await anyio.sleep(1.0 / rate)


async def money_drain(uri: str, deadline: float, say: Any) -> None:
    """Until no order is Pending or Authorized and every job is done."""
    client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(uri, tz_aware=True)
    try:
        orders = client["payflow"].orders
        with anyio.move_on_after(deadline):
            while True:
                open_ = await orders.count_documents({"status": {"$in": ["Pending", "Authorized"]}})
                busy = await orders.count_documents({"processing.state": {"$ne": "done"}})
                if not open_ and not busy:
                    return
                say(f"draining: {open_} orders open, {busy} jobs not done")
                await anyio.sleep(1)
    finally:
        client.close()


async def money_books(uri: str, tally: MoneyTally) -> dict[str, Any]:
    client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(uri, tz_aware=True)
    try:
        db = client["payflow"]
        store = MongoStore(db)
        orders = {d["orderNumber"]: d async for d in db.orders.find({})}
        captured_by: dict[str, int] = defaultdict(int)
        for number, owner in tally.accepted.items():
            doc = orders.get(number)
            if doc is not None and doc["status"] == "Paid":
                captured_by[owner] += int(doc.get("capturedMinor") or 0)
        wallets: list[str] = []
        created_or_lost: list[str] = []
        held: list[str] = []
        negative: list[str] = []
        captures: Counter[str] = Counter()
        for customer_id in tally.customers:
            customer = await store.customers.get(customer_id)
            entries = await store.wallets.ledger_of(customer_id)
            for entry in entries:
                if entry.type == "capture" and entry.order_number:
                    captures[entry.order_number] += 1
                if entry.available_minor < 0 or entry.reserved_minor < 0:
                    negative.append(entry.id)
            wallet = customer.balance("USD") if customer else None
            ledger = ledger_totals(entries).get("USD")
            if wallet is None or ledger is None:
                wallets.append(customer_id)
                continue
            if (wallet.available_minor, wallet.reserved_minor) != (
                ledger.available_minor,
                ledger.reserved_minor,
            ):
                wallets.append(customer_id)
            expected = OPENING_MINOR - captured_by[customer_id]
            if wallet.available_minor + wallet.reserved_minor != expected:
                created_or_lost.append(
                    f"{customer_id}: {wallet.available_minor + wallet.reserved_minor} != {expected}"
                )
            if wallet.reserved_minor:
                held.append(f"{customer_id}: {wallet.reserved_minor}")
        lost = [n for n in tally.accepted if n not in orders]
        open_ = [
            n
            for n in tally.accepted
            if orders.get(n, {}).get("status") in ("Pending", "Authorized")
        ]
        both = sorted(set(tally.captured) & tally.canceled)
        disagree = [
            n
            for n, minor in tally.captured.items()
            if orders[n]["status"] != "Paid" or int(orders[n].get("capturedMinor") or -1) != minor
        ] + [n for n in tally.canceled if orders[n]["status"] != "Canceled"]
        # And the other way round: a capture or cancel that took effect was answered 200
        # (a retry after a kill finishes its own request instead of refusing it).
        unanswered = [
            n
            for n in tally.accepted
            if n in orders
            and (
                (orders[n]["status"] == "Paid" and n not in tally.captured)
                or (
                    orders[n]["status"] == "Canceled"
                    and orders[n].get("cancellationReason") == "requested_by_customer"
                    and n not in tally.canceled
                )
            )
        ]
        states = Counter(orders[n]["status"] for n in tally.accepted if n in orders)
        reasons = Counter(
            orders[n].get("cancellationReason") or "-"
            for n in tally.accepted
            if n in orders and orders[n]["status"] == "Canceled"
        )
        return {
            "wallets_off_ledger": wallets,
            "money_created_or_lost": created_or_lost,
            "holds_left": held,
            "negative_entries": negative,
            "captured_twice": [n for n, c in captures.items() if c > 1],
            "captured_and_canceled": both,
            "answers_disagreeing": disagree,
            "effects_not_answered_200": unanswered,
            "lost": lost,
            "open": open_,
            "states": states,
            "reasons": reasons,
            "captured_total": sum(captured_by.values()),
        }
    finally:
        client.close()


CHECKS = (
    ("accepted orders lost", "lost"),
    ("orders left Pending or Authorized", "open"),
    ("wallets that differ from their ledger", "wallets_off_ledger"),
    ("wallets with money created or lost", "money_created_or_lost"),
    ("holds left behind (reserved > 0)", "holds_left"),
    ("ledger entries with a negative balance", "negative_entries"),
    ("orders captured twice", "captured_twice"),
    ("orders both captured and canceled (200s)", "captured_and_canceled"),
    ("200 answers that disagree with the end state", "answers_disagreeing"),
    ("captures/cancels that took effect but were refused", "effects_not_answered_200"),
)


def money_report_rows(tally: MoneyTally, books: dict[str, Any]) -> list[tuple[str, str]]:
    states = ", ".join(f"{k} {v}" for k, v in sorted(books["states"].items()))
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(books["reasons"].items()))
    plans = ", ".join(f"{k} {v}" for k, v in sorted(tally.plans.items()))
    rows = [
        ("customers (opening balance each)", f"{len(tally.customers)} ({OPENING_MINOR / 100:.2f})"),
        ("orders accepted (201 seen by the client)", str(len(tally.accepted))),
        ("plans for the authorized ones", plans),
        (
            "captures answered 200 / cancels answered 200",
            f"{len(tally.captured)} / {len(tally.canceled)}",
        ),
        ("captured in all", f"{books['captured_total'] / 100:.2f}"),
        ("requests retried with the same key", str(tally.retried_requests)),
        ("requests refused (4xx other than the races')", str(len(tally.refused))),
        ("requests abandoned", str(len(tally.abandoned))),
    ]
    rows += [(name, str(len(books[key]))) for name, key in CHECKS]
    rows += [("final states", states), ("cancellation reasons", reasons)]
    return rows


def money_problems(tally: MoneyTally, books: dict[str, Any]) -> list[str]:
    found = [f"{key}: {', '.join(map(str, books[key][:10]))}" for _, key in CHECKS if books[key]]
    return found + tally.refused[:10] + [f"abandoned: {n}" for n in tally.abandoned[:10]]
