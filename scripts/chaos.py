"""Chaos run: SIGKILL payflow at random moments under a steady order load, restart it on
the same data, retry like a real client, let it drain, then check the books.

Two modes: `orders` (the default, below) and `money` (`scripts/chaos_money.py`: wallet-
funded manual-capture orders captured, canceled, both at once or left to expire).

What it proves, from the outside (HTTP only, loopback only):
- no accepted order is lost: every order the client saw a 201 for exists at the end;
- no order is paid twice: at most one `applied` receipt per order in its audit trail;
- nothing is left half-done: every order ends Paid or Failed (as its card says);
- the embedded database dies with its payflow (no orphan holds the data directory),
  and a payflow restarted on a directory whose server was killed starts normally.

The client behaves like a careful real one: a request that fails because of a kill
(connection refused or reset, timeout, 5xx, 409 in progress) is sent again with the
same Idempotency-Key until it gets an answer. Run `scripts/chaos --help` for options;
everything is bounded (kills, rate, a deadline for the whole run).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
from chaos_money import (
    AUTHORIZATION_HOURS,
    MoneyTally,
    database_uri,
    money_books,
    money_drain,
    money_load,
    money_problems,
    money_report_rows,
    open_wallets,
    problem_slug,
)

from payflow.database_process import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY_DEADLINE_SECONDS = 120.0  # a restart under a backlog on a busy machine can be slow
GONE_DEADLINE_SECONDS = 10.0
GIVE_UP_SECONDS = 180.0  # a create still unanswered after this is reported, not retried
MAX_BACKOFF_SECONDS = 2.0
RECEIPT_CHECKS = 50
CLIENT_TIMEOUT_SECONDS = 30.0
MAX_CREATES_IN_FLIGHT = 32  # like a client's connection pool: the load waits beyond this
DECLINE_SHARE = 0.1
RETRYABLE_PROBLEMS = ("idempotency-in-progress", "service-unavailable")


@dataclass
class Options:
    kills: int
    rate: float
    min_uptime: float
    max_uptime: float
    startup_kill_share: float
    seed: int
    deadline: float
    drain_deadline: float
    workdir: Path
    port: int
    target: str = "payflow"
    mode: str = "orders"
    database_port: int = 0


@dataclass
class Tally:
    """What the client saw."""

    accepted: dict[str, str] = field(default_factory=dict)  # orderNumber → order id
    methods: dict[str, str] = field(default_factory=dict)
    retried_requests: int = 0
    disagreeing_responses: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    in_flight: int = 0


@dataclass
class Life:
    """What the process side saw."""

    kills: int = 0
    startup_kills: int = 0
    restarts: list[float] = field(default_factory=list)  # seconds until ready
    began: float = field(default_factory=time.monotonic)
    last_spawn: float = 0.0
    orphans: list[int] = field(default_factory=list)


def say(message: str) -> None:
    print(message, flush=True)


class Payflow:
    """One `payflow serve` at a time, always on the same port and data directory."""

    def __init__(self, options: Options) -> None:
        self.base_url = f"http://{HOST}:{options.port}"
        self.data_dir = options.workdir / "db"
        self.log_path = options.workdir / "payflow.log"
        self.env = {
            **os.environ,
            "PAYFLOW_SERVER__HOST": HOST,
            "PAYFLOW_SERVER__PORT": str(options.port),
            "PAYFLOW_EMBEDDED__DATA_DIR": str(self.data_dir),
            "PAYFLOW_PROCESSING__DELAY_SECONDS": "0.2",
            "PAYFLOW_PROCESSING__POLL_INTERVAL_SECONDS": "0.5",
            # Short leases so that work a killed process held comes back within seconds.
            "PAYFLOW_PROCESSING__LEASE_SECONDS": "10",
            "PAYFLOW_WEBHOOKS__TIMEOUT_SECONDS": "5",
            "PAYFLOW_PROCESSING__RETRY_MAX_SECONDS": "5",
            "PAYFLOW_IDEMPOTENCY__LEASE_SECONDS": "10",
        }
        if options.mode == "money":  # the script reads the books on the same database
            self.env["PAYFLOW_EMBEDDED__PORT"] = str(options.database_port)
            self.env["PAYFLOW_PAYMENTS__AUTHORIZATION_HOURS"] = str(AUTHORIZATION_HOURS)
        self.env.pop("MONGO_URI", None)
        self.env.pop("PAYFLOW_MONGO__URI", None)
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "payflow.cli", "serve"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        process = self.process
        assert process is not None
        with anyio.fail_after(READY_DEADLINE_SECONDS):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"payflow exited with {process.returncode}; see {self.log_path}"
                    )
                try:
                    if (await client.get("/health/ready", timeout=5)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await anyio.sleep(0.05)

    def kill(self) -> list[int]:
        """SIGKILL payflow alone (not its group); return the database servers left alive."""
        process = self.process
        assert process is not None
        process.kill()
        process.wait()
        deadline = time.monotonic() + GONE_DEADLINE_SECONDS
        while (left := self.database_servers()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:  # orphans of ours: reported, then cleared so the run can go on
            os.kill(pid, signal.SIGKILL)
        return left

    def stop(self) -> int:
        process = self.process
        if process is None or process.poll() is not None:
            return 0
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def database_servers(self) -> list[int]:
        """Live processes serving this run's data directory (read from /proc)."""
        needle = f"--storage-path\0{self.data_dir}\0".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if needle in (entry / "cmdline").read_bytes() and not _zombie(entry):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found


def _zombie(proc: Path) -> bool:
    return "\nState:\tZ" in (proc / "status").read_text()


async def create_order(
    client: httpx.AsyncClient, number: str, method: str, tally: Tally, rng: random.Random
) -> None:
    """POST until answered, with the same key each time, as a careful client does: backing
    off exponentially with jitter (a restarting server is not hammered), and never sooner
    than a Retry-After says."""
    amount = f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}"
    body = f'{{"orderNumber":"{number}","amount":{amount},"paymentMethod":"{method}"}}'
    headers = {"Idempotency-Key": f"chaos-{number}"}
    started = time.monotonic()
    tally.in_flight += 1
    try:
        retries = 0
        while time.monotonic() - started < GIVE_UP_SECONDS:
            backoff = min(MAX_BACKOFF_SECONDS, 0.1 * 2**retries) * rng.uniform(0.5, 1.0)
            if retries:
                tally.retried_requests += 1
            retries += 1
            try:
                response = await client.post("/api/orders", headers=headers, content=body)
            except httpx.HTTPError:
                await anyio.sleep(backoff)
                continue
            if response.status_code == 201:
                order_id = response.json()["id"]
                seen = tally.accepted.setdefault(number, order_id)
                if seen != order_id:
                    tally.disagreeing_responses.append(f"{number}: {seen} then {order_id}")
                tally.methods[number] = method
                return
            problem = problem_slug(response)
            if response.status_code >= 500 or problem in RETRYABLE_PROBLEMS:
                await anyio.sleep(max(backoff, float(response.headers.get("retry-after", 0))))
                continue
            tally.refused.append(f"{number}: {response.status_code} {response.text[:200]}")
            return
        tally.abandoned.append(number)
    finally:
        tally.in_flight -= 1


async def load(
    client: httpx.AsyncClient, options: Options, tally: Tally, stop: anyio.Event
) -> None:
    """A steady create rate until `stop`; waits for every create to be answered.

    At most `MAX_CREATES_IN_FLIGHT` creates are open at once, as with a real client's
    connection pool, so a restarting payflow faces a bounded backlog.
    """
    rng = random.Random(options.seed + 1)  # noqa: S311 - chaos, not cryptography
    interval = 1.0 / options.rate
    slots = anyio.Semaphore(MAX_CREATES_IN_FLIGHT)

    async def one(number: str, method: str) -> None:
        try:
            await create_order(client, number, method, tally, rng)
        finally:
            slots.release()

    async with anyio.create_task_group() as creates:
        n = 0
        while not stop.is_set():
            await slots.acquire()
            method = "pm_card_chargeDeclined" if rng.random() < DECLINE_SHARE else "pm_card_visa"
            creates.start_soon(one, f"CH-{options.seed}-{n}", method)
            n += 1
            await anyio.sleep(interval)


async def crash_loop(
    payflow: Payflow, client: httpx.AsyncClient, options: Options, tally: Tally, life: Life
) -> None:
    """Kill, restart, repeat. Some kills land while the restarted payflow is starting."""
    rng = random.Random(options.seed)  # noqa: S311 - chaos, not cryptography
    began = spawned = time.monotonic()
    for kill in range(1, options.kills + 1):
        during_startup = kill > 1 and rng.random() < options.startup_kill_share
        if during_startup:
            await anyio.sleep(rng.uniform(0.05, 1.5))  # start-up takes about 1.5-3 s
            life.startup_kills += 1
        else:
            await payflow.wait_ready(client)
            if kill > 1:
                life.restarts.append(time.monotonic() - spawned)
            await anyio.sleep(rng.uniform(options.min_uptime, options.max_uptime))
        orphans = payflow.kill()
        life.kills += 1
        life.orphans += orphans
        payflow.spawn()
        spawned = life.last_spawn = time.monotonic()
        say(
            f"kill {kill:2d}/{options.kills} at {spawned - began:6.1f}s "
            f"{'during start-up' if during_startup else 'while serving  '} · "
            f"accepted {len(tally.accepted):5d} · retried requests {tally.retried_requests:4d} · "
            f"creates in flight {tally.in_flight:3d} · orphaned databases {len(orphans)}"
        )
    await payflow.wait_ready(client)
    life.restarts.append(time.monotonic() - spawned)


async def database_kill_loop(
    payflow: Payflow, client: httpx.AsyncClient, options: Options, tally: Tally, life: Life
) -> None:
    """`--target database`: SIGKILL the embedded database under payflow, which stays up and
    must restart it on the same data by itself (DESIGN §8); time each round to ready."""
    rng = random.Random(options.seed)  # noqa: S311 - chaos, not cryptography
    began = time.monotonic()
    for kill in range(1, options.kills + 1):
        await payflow.wait_ready(client)
        await anyio.sleep(rng.uniform(options.min_uptime, options.max_uptime))
        killed = payflow.database_servers()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        life.kills += 1
        life.last_spawn = killed_at = time.monotonic()
        with anyio.fail_after(READY_DEADLINE_SECONDS):
            while set(payflow.database_servers()) & set(killed):  # noqa: ASYNC110 - /proc
                await anyio.sleep(0.01)  # the kill lands; then ready means the new server
            await payflow.wait_ready(client)
        life.restarts.append(time.monotonic() - killed_at)
        say(
            f"database kill {kill:2d}/{options.kills} at {killed_at - began:6.1f}s · "
            f"ready again after {life.restarts[-1]:5.2f}s · accepted {len(tally.accepted):5d} · "
            f"retried requests {tally.retried_requests:4d} · creates in flight {tally.in_flight:3d}"
        )


async def drain(client: httpx.AsyncClient, life: Life, deadline: float) -> float:
    """Wait until no order is Pending; returns the seconds since the last restart."""
    with anyio.move_on_after(deadline):
        while True:
            pending = (await client.get("/api/orders", params={"status": "Pending"})).json()
            if not pending:
                break
            say(f"draining: {len(pending)} orders still Pending")
            await anyio.sleep(1)
    return time.monotonic() - life.last_spawn


async def audit(client: httpx.AsyncClient, tally: Tally) -> dict[str, Any]:
    """Read every accepted order and its audit trail back through the API."""
    lost: list[str] = []
    not_final: list[str] = []
    paid_twice: list[str] = []
    no_receipt: list[str] = []
    wrong_outcome: list[str] = []
    states: Counter[str] = Counter()
    limiter = anyio.Semaphore(16)

    async def check(number: str) -> None:
        async with limiter:
            response = await client.get(f"/api/orders/{number}")
            if response.status_code == 404:
                lost.append(number)
                return
            order = response.json()
            states[order["status"]] += 1
            if order["id"] != tally.accepted[number]:
                tally.disagreeing_responses.append(f"{number}: stored id {order['id']}")
            if order["status"] not in ("Paid", "Failed"):
                not_final.append(number)
            expected = "Failed" if tally.methods[number] != "pm_card_visa" else "Paid"
            if order["status"] in ("Paid", "Failed") and order["status"] != expected:
                wrong_outcome.append(number)
            final = order["status"] in ("Paid", "Failed")
            for _ in range(RECEIPT_CHECKS):  # each receipt is written just after its update
                trail = (await client.get(f"/api/orders/{number}/events")).json()
                applied = [e for e in trail if e["outcome"] == "applied"]
                if applied or not final:
                    break
                await anyio.sleep(0.1)
            if len(applied) > 1:
                paid_twice.append(number)
            if not applied and final:
                no_receipt.append(number)

    async with anyio.create_task_group() as checks:
        for number in list(tally.accepted):
            checks.start_soon(check, number)
    return {
        "lost": lost,
        "not_final": not_final,
        "paid_twice": paid_twice,
        "no_receipt": no_receipt,
        "wrong_outcome": wrong_outcome,
        "states": states,
    }


def report(
    options: Options, tally: Tally, life: Life, books: dict[str, Any], drained: float
) -> str:
    restarts = life.restarts
    states = ", ".join(f"{k} {v}" for k, v in sorted(books["states"].items()))
    rows = [
        ("seed", str(options.seed)),
        ("run time", f"{time.monotonic() - life.began:.0f}s"),
        ("SIGKILLs (of them during start-up)", f"{life.kills} ({life.startup_kills})"),
        (
            "restarts on the same data dir that got ready (after)",
            f"{len(restarts)} ({min(restarts, default=0):.1f}-{max(restarts, default=0):.1f}s)",
        ),
        ("orphaned database servers", str(len(life.orphans))),
        ("seconds to ready, each round", " ".join(f"{t:.2f}" for t in restarts)),
        ("orders accepted (201 seen by the client)", str(len(tally.accepted))),
        ("requests retried with the same key", str(tally.retried_requests)),
        ("requests refused (4xx)", str(len(tally.refused))),
        ("creates abandoned", str(len(tally.abandoned))),
        ("every order final, after the last restart", f"{drained:.1f}s"),
        ("accepted orders lost", str(len(books["lost"]))),
        ("orders paid twice (>1 applied receipt)", str(len(books["paid_twice"]))),
        ("orders not in a final state", str(len(books["not_final"]))),
        ("orders final without an applied receipt", str(len(books["no_receipt"]))),
        ("orders with the wrong outcome", str(len(books["wrong_outcome"]))),
        ("responses that disagree for one key", str(len(tally.disagreeing_responses))),
        ("final states", states),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["payflow chaos report", *(f"  {name:<{width}}  {value}" for name, value in rows)]
    for name in ("lost", "paid_twice", "not_final", "no_receipt", "wrong_outcome"):
        if books[name]:
            lines.append(f"  {name}: {', '.join(sorted(books[name])[:20])}")
    for problem in [*tally.refused[:10], *tally.disagreeing_responses[:10]]:
        lines.append(f"  ! {problem}")
    return "\n".join(lines)


def passed(tally: Tally, life: Life, books: dict[str, Any]) -> bool:
    return not (
        life.orphans
        or tally.refused
        or tally.abandoned
        or tally.disagreeing_responses
        or any(books[name] for name in ("lost", "paid_twice", "not_final", "no_receipt"))
        or books["wrong_outcome"]
    )


async def under_kills(
    options: Options,
    payflow: Payflow,
    tally: Any,
    life: Life,
    start_load: Callable[[httpx.AsyncClient, anyio.Event], Coroutine[Any, Any, None]],
    finish: Callable[[httpx.AsyncClient], Awaitable[T]],
    setup: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None,
) -> T:
    """Serve, load, kill and restart as the options say; stop the load, then `finish`
    (drain and read the books) before payflow is stopped for good. Both modes run this."""
    say(f"  data and logs in {options.workdir}; payflow on {payflow.base_url}")
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(
        base_url=payflow.base_url, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
    ) as client:
        payflow.spawn()
        try:
            await payflow.wait_ready(client)
            if setup is not None:
                await setup(client)
            with anyio.fail_after(options.deadline):
                stop = anyio.Event()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(start_load, client, stop)
                    kill_loop = database_kill_loop if options.target == "database" else crash_loop
                    await kill_loop(payflow, client, options, tally, life)
                    stop.set()  # the requests already sent still finish (retrying as needed)
                say(f"load stopped: {len(tally.accepted)} accepted; draining…")
                return await finish(client)
        finally:
            code = payflow.stop()
            say(f"payflow stopped with SIGTERM (exit status {code})")


async def run(options: Options) -> int:
    if options.mode == "money":
        return await run_money(options)
    payflow = Payflow(options)
    tally, life = Tally(), Life()
    say(
        f"payflow chaos: {options.kills} kills of {options.target}, {options.rate:g} orders/s, "
        f"seed {options.seed}"
    )

    async def finish(client: httpx.AsyncClient) -> tuple[float, dict[str, Any]]:
        drained = await drain(client, life, options.drain_deadline)
        return drained, await audit(client, tally)

    drained, books = await under_kills(
        options,
        payflow,
        tally,
        life,
        lambda client, stop: load(client, options, tally, stop),
        finish,
    )
    text = report(options, tally, life, books, drained)
    say(text)
    (options.workdir / "report.txt").write_text(text + "\n")
    ok = passed(tally, life, books)
    say("PASS" if ok else "FAIL")
    return 0 if ok else 1


async def run_money(options: Options) -> int:
    payflow = Payflow(options)
    tally, life = MoneyTally(), Life()
    uri = database_uri(options.database_port)
    say(
        f"payflow chaos (money): {options.kills} kills, {options.rate:g} orders/s, "
        f"seed {options.seed}; authorizations expire after {AUTHORIZATION_HOURS * 3600:.1f}s"
    )

    async def finish(_: httpx.AsyncClient) -> tuple[float, dict[str, Any]]:
        await money_drain(uri, options.drain_deadline, say)
        return time.monotonic() - life.last_spawn, await money_books(uri, tally)

    drained, books = await under_kills(
        options,
        payflow,
        tally,
        life,
        lambda client, stop: money_load(client, options.rate, options.seed, tally, stop),
        finish,
        setup=lambda client: open_wallets(client, options.seed, tally),
    )
    rows = [
        ("seed", str(options.seed)),
        ("run time", f"{time.monotonic() - life.began:.0f}s"),
        ("SIGKILLs (of them during start-up)", f"{life.kills} ({life.startup_kills})"),
        ("orphaned database servers", str(len(life.orphans))),
        ("every order final, after the last restart", f"{drained:.1f}s"),
        *money_report_rows(tally, books),
    ]
    width = max(len(name) for name, _ in rows)
    problems = money_problems(tally, books)
    lines = ["payflow chaos report (money)", *(f"  {n:<{width}}  {v}" for n, v in rows)]
    lines += [f"  ! {p}" for p in problems]
    text = "\n".join(lines)
    say(text)
    (options.workdir / "report.txt").write_text(text + "\n")
    ok = not problems and not life.orphans
    say("PASS" if ok else "FAIL")
    return 0 if ok else 1


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="SIGKILL payflow at random moments under load and check the books.",
    )
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs (default 20)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders per second (10)")
    parser.add_argument("--min-uptime", type=float, default=0.5, help="seconds (0.5)")
    parser.add_argument("--max-uptime", type=float, default=4.0, help="seconds (4)")
    parser.add_argument(
        "--startup-kills", type=float, default=0.15, help="share of kills during start-up"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds for the run")
    parser.add_argument("--drain", type=float, default=180.0, help="seconds to drain")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--target",
        choices=("payflow", "database"),
        default="payflow",
        help="what to SIGKILL: payflow (restarted by this script) or its embedded database "
        "(payflow must restart it by itself)",
    )
    parser.add_argument(
        "--mode",
        choices=("orders", "money"),
        default="orders",
        help="orders: card payments (default); money: wallet-funded manual captures",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.kills <= 1000 or not 0 < args.rate <= 500:
        parser.error("--kills must be 1-1000 and --rate 0-500")
    if not 0 < args.min_uptime <= args.max_uptime <= 600:
        parser.error("need 0 < --min-uptime <= --max-uptime <= 600")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="payflow-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return Options(
        kills=args.kills,
        rate=args.rate,
        min_uptime=args.min_uptime,
        max_uptime=args.max_uptime,
        startup_kill_share=args.startup_kills,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(10**6),
        deadline=args.deadline,
        drain_deadline=args.drain,
        workdir=workdir,
        port=args.port or free_port(),
        target=args.target,
        mode=args.mode,
        database_port=free_port() if args.mode == "money" else 0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    if sys.platform != "linux":
        print("scripts/chaos reads /proc: it runs on Linux only", file=sys.stderr)
        return 2
    return anyio.run(run, parse(argv))


if __name__ == "__main__":
    raise SystemExit(main())
