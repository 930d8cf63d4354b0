"""`scripts/bench`: measure payflow against floors taken in the same run, then write a report.

Phases, in order (each can be skipped with --skip):
  floors   the floor app (bench/floors.py): JSON echo, one insert_one, one find_one
  create   POST /api/orders, a fresh key and orderNumber per request (worker idle: 1 h delay)
  replay   the same key and body again and again
  e2e      N orders as fast as wrk sends them, delay 0: paid/s through real signed webhooks
  hidden   1,000 orders with the sandbox's 5 s delay: time until all are Paid
  signing  µs per verify: payflow per scheme, standardwebhooks, stripe (in-process)
  payfloor the payment floor (bench/payment_floor.py): N seeded Pending orders paid by a
           bare pipeline (read, event, signed POST, receiver's update and receipt): paid/s
  payments payflow's payments alone: N orders made to fall due at one moment, paid/s from
           then to the last Paid; with create req/s, at 1,000 and at 100,000 stored orders
           (clones of orders payflow made; 1,000 and 10,000 with --quick)
  peers    localstripe, installed in its own environment on the first run: create and
           confirm req/s, paid and notified/s (bench/peers.py; stripe-mock: not measured)
  memory   server RSS after 10k and 100k orders (fewer with --quick)
Everything runs on 127.0.0.1 against one database server: the embedded one, started
here, or a real mongod when MONGO_URI is set. Speed is only ever judged as a ratio of
figures from the same run (bench/report.py), never by timed assertions in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from pymongo.database import Database

from bench import procs, report
from bench.procs import Progress, Server

PHASES = (
    "floors", "create", "replay", "signing", "e2e", "hidden", "payfloor", "payments", "peers",
    "memory",
)  # fmt: skip
RESULTS_DIR = procs.ROOT / "bench" / "results"
LONG_DELAY = "3600"  # create/replay: the worker never gets to these orders during the run


class Budget:
    """The run's deadline: phases size their waits from what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Console:
    """Progress on one rewritten line in a terminal, a line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def progress(self, text: str) -> None:
        if self.tty:
            sys.stderr.write(f"\r\033[K  … {text}")
            sys.stderr.flush()
        elif time.monotonic() - self._last >= 5:
            self._last = time.monotonic()
            print(f"  … {text}", file=sys.stderr, flush=True)

    def say(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        print(text, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="< 3 minutes: shorter phases, fewer orders"
    )
    parser.add_argument(
        "--runner",
        choices=["uvicorn", "granian"],
        default="uvicorn",
        help="server runner (default uvicorn, as `payflow serve`)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server worker processes, floors and payflow alike (default 1)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--duration", type=float, help="seconds per wrk phase (default 10, --quick 3)"
    )
    parser.add_argument(
        "--e2e-orders", type=int, help="orders in the end-to-end phase (default 4000, --quick 600)"
    )
    parser.add_argument("--memory-orders", help="two counts, e.g. 10000,100000 (--quick 1000,3000)")
    parser.add_argument(
        "--payment-orders",
        type=int,
        help="orders paid by the payment floor and by payflow alone (default 2000, --quick 400)",
    )
    parser.add_argument(
        "--stored",
        help="orders stored for the payments phase's two rounds "
        "(default 1000,100000, --quick 1000,10000)",
    )
    parser.add_argument(
        "--budget", type=float, help="seconds the whole run may take (default 760, --quick 125)"
    )
    parser.add_argument(
        "--skip", default="", help=f"comma-separated phases to skip: {','.join(PHASES)}"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="results folder (default bench/results)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs (printed path)")
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quick = args.quick
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phase(s) to skip: {', '.join(sorted(unknown))}")
    duration = args.duration or (3.0 if quick else 10.0)
    budget = Budget(args.budget or (125.0 if quick else 760.0))
    memory_targets = [
        int(x)
        for x in (args.memory_orders or ("1000,3000" if quick else "10000,100000")).split(",")
    ]
    console = Console()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    results: dict[str, Any] = {
        "meta": {
            "date": stamp,
            "mode": "quick" if quick else "full",
            "runner": args.runner,
            "workers": args.workers,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "duration_s": duration,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": procs.load_average(),
            "notes": [],
        }
    }
    notes: list[str] = results["meta"]["notes"]
    if quick:
        notes.append(
            f"--quick: {duration:.0f} s per wrk phase, memory at "
            f"{memory_targets[0]:,} and {memory_targets[-1]:,} orders instead of 10k and 100k, "
            f"{args.e2e_orders or 600} end-to-end orders; payments alone of "
            f"{args.payment_orders or 400} orders (2,000 in a full run), with "
            f"{args.stored or '1000,10000'} orders stored (1000,100000 in a full run)."
        )
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/bench installs it with apt-get as root)")
    console.say(f"payflow bench ({results['meta']['mode']}), load average {procs.load_average()}")
    logs = Path(tempfile.mkdtemp(prefix="payflow-bench-"))
    ctx = Context(args, console, budget, logs, duration, stamp)
    try:
        with database(ctx, results) as uri:
            ctx.uri = uri
            for phase in PHASES:
                if phase in skip:
                    continue
                if budget.left() < 5:
                    notes.append(f"{phase}: skipped, the time budget was used up")
                    continue
                console.say(f"== {phase}")
                PHASE_RUNNERS[phase](ctx, results, memory_targets)
    finally:
        results["meta"]["load_after"] = procs.load_average()
        results["meta"]["elapsed_s"] = round(budget.elapsed(), 1)
        if args.keep_logs:
            console.say(f"server logs kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    # A quick run never replaces the latest full report (the README links that one).
    paths = report.write(
        results, args.out, stamp, latest="latest-quick" if args.quick else "latest"
    )
    console.say("")
    for goal in report.evaluate(results):
        console.say(f"  {goal.verdict:>12}  {goal.goal}: {goal.measured} (target {goal.target})")
    console.say(f"\nreport: {paths['md']}\n        {paths['png']}\n        {paths['json']}")
    return 0


class Context:
    """What every phase needs: options, output, the deadline, the database URI."""

    def __init__(
        self,
        args: argparse.Namespace,
        console: Console,
        budget: Budget,
        logs: Path,
        duration: float,
        stamp: str,
    ) -> None:
        self.args = args
        self.console = console
        self.budget = budget
        self.logs = logs
        self.duration = duration
        self.run_id = uuid.uuid4().hex[:6]
        self.uri = ""
        self.stamp = stamp

    @property
    def progress(self) -> Progress:
        return self.console.progress

    def db_name(self, phase: str) -> str:
        return f"bench_{self.run_id}_{phase}"

    def warmup(self) -> float:
        return 1.0 if self.args.quick else 2.0

    def wrk(
        self,
        server: Server,
        script: str,
        wrk_args: Sequence[str],
        label: str,
        seconds: float,
        tally: procs.Tally | None = None,
    ) -> procs.WrkResult:
        return procs.run_wrk(
            server.base_url, script, wrk_args, duration=seconds, threads=self.args.threads,
            connections=self.args.connections, label=label, progress=self.progress,
            tally=tally,
        )  # fmt: skip

    def tally(self, name: str, target: int) -> procs.Tally:
        """A fresh tally file for one wrk run that ends by itself after `target` creates."""
        path = self.logs / f"{name}.tally"
        path.unlink(missing_ok=True)
        return procs.Tally(path, target)

    @contextmanager
    def server(self, kind: str, phase: str, env: dict[str, str] | None = None) -> Iterator[Server]:
        self.console.progress(f"starting {kind} ({self.args.runner} x {self.args.workers})")
        server = procs.start_server(
            kind,
            runner=self.args.runner,
            workers=self.args.workers,
            mongo_uri=self.uri,
            database=self.db_name(phase),
            log_dir=self.logs,
            env=env,
        )
        try:
            yield server
        finally:
            server.stop()

    def mongo(self) -> MongoClient[dict[str, Any]]:
        client: MongoClient[dict[str, Any]] = MongoClient(self.uri, tz_aware=True)
        return client


@contextmanager
def database(ctx: Context, results: dict[str, Any]) -> Iterator[str]:
    """A real mongod from MONGO_URI, else the embedded server on a scratch directory."""
    uri = os.environ.get("MONGO_URI", "")
    if uri:
        results["meta"]["database"] = "mongod (MONGO_URI)"
        try:
            yield uri
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(uri)
            with client:
                for name in client.list_database_names():
                    if name.startswith(f"bench_{ctx.run_id}_"):  # this run's, nobody else's
                        client.drop_database(name)
        return
    from payflow.database_process import embedded_server

    version = _version("secantusdb")
    results["meta"]["database"] = f"embedded SecantusDB {version}, on disk"
    with embedded_server(ctx.logs / "db") as server:
        yield server.uri


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def run_floors(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    floors: dict[str, Any] = {}
    with ctx.server("floor", "floor") as server:
        ctx.wrk(server, "echo.lua", [], "floor echo (warm-up)", ctx.warmup())
        floors["echo"] = ctx.wrk(server, "echo.lua", [], "floor echo", ctx.duration).as_dict()
        prefix = f"f{ctx.run_id}"
        ctx.wrk(server, "floor_insert.lua", [prefix + "w"], "floor insert (warm-up)", ctx.warmup())
        floors["insert"] = ctx.wrk(
            server, "floor_insert.lua", [prefix], "floor insert", ctx.duration
        ).as_dict()
        key = f"{prefix}-find"
        stored = httpx.post(
            f"{server.base_url}/floor/insert",
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            content=f'{{"orderNumber":"{key}","amount":149.99,"currency":"USD"}}',
            timeout=30,
        )
        if stored.status_code != 201:
            raise RuntimeError(f"the floor did not store {key}: {stored.status_code}")
        floors["find"] = ctx.wrk(
            server, "floor_find.lua", [key], "floor find", ctx.duration
        ).as_dict()
    results["floors"] = floors
    for name, row in floors.items():
        ctx.console.say(f"  floor {name:7} {row['rps']:8,.1f} req/s  p99 {row['p99_ms']:.1f} ms")


def run_create(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": LONG_DELAY}
    with ctx.server("payflow", "create", env) as server:
        ctx.wrk(server, "create.lua", [f"w{ctx.run_id}"], "create (warm-up)", ctx.warmup())
        row = ctx.wrk(server, "create.lua", [f"c{ctx.run_id}"], "create", ctx.duration)
    results["create"] = row.as_dict()
    ctx.console.say(
        f"  create  {row.rps:8,.1f} req/s  p50 {row.p50_ms:.1f} ms  p99 {row.p99_ms:.1f} ms  "
        f"errors {row.errors}"
    )


def run_replay(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": LONG_DELAY}
    key = f"r{ctx.run_id}"
    with ctx.server("payflow", "replay", env) as server:
        first = httpx.post(
            f"{server.base_url}/api/orders",
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            content=f'{{"orderNumber":"{key}","amount":149.99,"currency":"USD"}}',
            timeout=30,
        )
        if first.status_code != 201:
            raise RuntimeError(f"replay setup: expected 201, got {first.status_code}: {first.text}")
        ctx.wrk(server, "replay.lua", [key], "replay (warm-up)", ctx.warmup())
        row = ctx.wrk(server, "replay.lua", [key], "replay", ctx.duration)
    results["replay"] = row.as_dict()
    ctx.console.say(
        f"  replay  {row.rps:8,.1f} req/s  p50 {row.p50_ms:.1f} ms  p99 {row.p99_ms:.1f} ms  "
        f"errors {row.errors}"
    )


def _orders_then_paid(
    ctx: Context,
    server: Server,
    phase: str,
    count: int,
    prefix: str,
    limit_s: float,
) -> dict[str, Any]:
    """Create `count` orders with wrk as fast as it goes, then wait until they are all Paid."""
    per_thread = math.ceil(count / ctx.args.threads)
    with ctx.mongo() as client:
        db = client[ctx.db_name(phase)]
        orders = db.orders
        started = time.time()
        t0 = time.monotonic()
        ctx.wrk(
            server, "create.lua", [prefix, str(per_thread)], f"{phase}: creating {count:,}",
            limit_s, tally=ctx.tally(phase, count),
        )  # fmt: skip
        create_seconds = time.monotonic() - t0
        procs.wait_until(
            lambda: settled(db),
            deadline=t0 + limit_s,
            label=f"{phase}: paying",
            progress=ctx.progress,
            interval=1.0,
        )
        # Counted once, after the wait: a count is a scan on the embedded server.
        created = orders.count_documents({})
        paid = orders.count_documents({"status": "Paid"})
        times = [
            (doc["createdAt"].timestamp(), doc["paidAt"].timestamp())
            for doc in orders.find({"status": "Paid"}, {"createdAt": 1, "paidAt": 1, "_id": 0})
        ]
    return _timing(started, created, paid, create_seconds, times)


def settled(db: Database[dict[str, Any]], due_by: dt.datetime | None = None) -> bool:
    """No order job and no webhook delivery is waiting or under way: every order that will
    be paid without a retry is Paid. Up to four indexed look-ups, never a count (a scan of
    every order). The embedded server reads every match of a look-up even for one answer,
    so the states with few documents (work under way) are asked first: while the worker is
    busy, the first look-up answers for a few dozen documents, not thousands. `due_by`:
    only jobs due by then count (orders made to wait an hour, as in a create run, do not)."""
    queued: dict[str, Any] = {"processing.state": "queued"}
    if due_by is not None:
        queued["processing.dueAt"] = {"$lte": due_by}
    open_work = (
        (db.orders, {"processing.state": "processing"}),
        (db.deliveries, {"state": "processing"}),
        (db.deliveries, {"state": "pending"}),
        (db.orders, queued),
    )
    return all(collection.find_one(query, {"_id": 1}) is None for collection, query in open_work)


def _timing(
    started: float,
    created: int,
    paid: int,
    create_seconds: float,
    times: list[tuple[float, float]],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created": created,
        "paid": paid,
        "create_seconds": round(create_seconds, 2),
        "create_rps": round(created / create_seconds, 1) if create_seconds else None,
    }
    if not times:
        return out
    paid_at = sorted(p - started for _, p in times)
    latencies = sorted(p - c for c, p in times)
    last = paid_at[-1]
    lo, hi = paid_at[len(paid_at) // 10], paid_at[(len(paid_at) * 9) // 10]
    out.update(
        last_paid_s=round(last, 2),
        all_paid_s=round(last, 2),
        paid_per_s=round(len(times) / last, 1) if last > 0 else None,
        steady_paid_per_s=round(len(times) * 0.8 / (hi - lo), 1) if hi > lo else None,
        order_latency_p50_s=round(latencies[len(latencies) // 2], 3),
        order_latency_p99_s=round(
            latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)], 3
        ),
        timeline=_timeline(paid_at),
    )
    return out


def _timeline(paid_at: list[float], points: int = 60) -> list[list[float]]:
    """(seconds, orders Paid so far) at up to `points` instants, for the plot."""
    if not paid_at:
        return []
    step = max(paid_at[-1] / points, 0.05)
    line, i = [], 0
    for k in range(points + 1):
        t = k * step
        while i < len(paid_at) and paid_at[i] <= t:
            i += 1
        line.append([round(t, 2), i])
    return line


def run_e2e(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    count = ctx.args.e2e_orders or (600 if ctx.args.quick else 4000)
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": "0"}
    limit = min(ctx.budget.left() - 5, 30.0 if ctx.args.quick else 120.0)
    with ctx.server("payflow", "e2e", env) as server:
        e2e = _orders_then_paid(ctx, server, "e2e", count, f"e{ctx.run_id}", limit)
    e2e["orders"] = count
    results["e2e"] = e2e
    ctx.console.say(
        f"  e2e     {e2e['paid']:,}/{e2e['created']:,} Paid; {e2e.get('paid_per_s')} paid/s "
        f"(created at {e2e.get('create_rps')} /s); last Paid at {e2e.get('last_paid_s')} s"
    )


def run_hidden(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    count = report.HIDDEN_ORDERS
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": str(report.HIDDEN_DELAY_S)}
    limit = min(ctx.budget.left() - 5, 40.0 if ctx.args.quick else 90.0)
    with ctx.server("payflow", "hidden", env) as server:
        hidden = _orders_then_paid(ctx, server, "hidden", count, f"h{ctx.run_id}", limit)
    hidden.pop("timeline", None)
    hidden.update(orders=count, delay_s=report.HIDDEN_DELAY_S)
    results["hidden"] = hidden
    ctx.console.say(
        f"  hidden  {hidden['paid']:,}/{count:,} Paid, the last {hidden.get('all_paid_s')} s "
        f"after the first request"
    )


def run_signing(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    from bench import signing

    ctx.progress("timing signature verification")
    rounds = (500, 3) if ctx.args.quick else (2000, 5)
    results["signing"] = signing.measure(*rounds)
    for name, us in results["signing"].items():
        ctx.console.say(f"  {name:18} {us:7.2f} µs per verify")


def run_peers(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    from bench import peers

    peers.run(ctx, results)


def run_memory(ctx: Context, results: dict[str, Any], targets: list[int]) -> None:
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": "0"}
    points: list[dict[str, Any]] = []
    results["memory"] = {"targets": targets, "points": points}
    with ctx.server("payflow", "memory", env) as server, ctx.mongo() as client:
        db = client[ctx.db_name("memory")]
        orders = db.orders
        created = 0
        for n, target in enumerate(targets):
            left = ctx.budget.left() - 5
            if left < 5:
                break
            need = target - created
            per_thread = math.ceil(need / ctx.args.threads)
            ctx.wrk(
                server, "create.lua", [f"m{ctx.run_id}x{n}", str(per_thread)],
                f"memory: creating up to {target:,}", left,
                tally=ctx.tally(f"memory-{n}", need),
            )  # fmt: skip
            procs.wait_until(
                lambda: settled(db),
                deadline=time.monotonic() + max(ctx.budget.left() - 5, 0),
                label=f"memory: paying up to {target:,}",
                progress=ctx.progress,
                interval=2.0,
            )
            created = orders.count_documents({})
            paid = orders.count_documents({"status": "Paid"})
            time.sleep(1.0)  # let in-flight webhooks settle before reading memory
            rss = server.rss_bytes() / 2**20
            reached = created >= target and paid >= created
            points.append(
                {"orders": created, "paid": paid, "rss_mb": round(rss, 1), "reached": reached}
            )
            ctx.console.say(f"  memory  {created:,} orders ({paid:,} Paid): RSS {rss:.1f} MB")
            if not reached:
                results["meta"]["notes"].append(
                    f"memory: stopped at {created:,} orders ({paid:,} Paid) of {target:,}: "
                    "the run's time budget ran out"
                )
                break


def run_payfloor(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    from bench import payments  # which uses this module's helpers

    payments.run_floor(ctx, results)


def run_payments(ctx: Context, results: dict[str, Any], _: list[int]) -> None:
    from bench import payments

    payments.run_payments(ctx, results)


PHASE_RUNNERS: dict[str, Callable[[Context, dict[str, Any], list[int]], None]] = {
    "floors": run_floors,
    "create": run_create,
    "replay": run_replay,
    "e2e": run_e2e,
    "hidden": run_hidden,
    "signing": run_signing,
    "payfloor": run_payfloor,
    "payments": run_payments,
    "peers": run_peers,
    "memory": run_memory,
}


if __name__ == "__main__":
    # As `bench.run`, not `__main__`: phase modules import this module's helpers, and
    # should find them in the module that runs, not in a second copy.
    from bench import run

    raise SystemExit(run.main())
