"""Payments alone: payflow's against the payment floor's, and as stored work grows.

`payfloor`: N Pending orders seeded in the payment floor's database (bench/payment_floor.py)
are paid by its bare pipeline, as many at once as wrk has connections; paid/s from the
first payment's start to the last Paid.

`payments`: payflow itself, one server configuration throughout (orders wait an hour
unless they ask otherwise). A few hundred orders are made and paid through the API and
cloned (bench/scale.py) until the database holds the first stored count (1,000), then a
fresh server measures
- create: a short wrk run, as the create phase (its orders wait an hour, out of the way);
- payments alone: N orders made with wrk, each asking for the `processingDelayMs` that
  makes all of them due at one moment after the last is made; paid/s from that moment to
  the last Paid (the first due moment, read back from the orders);
then clones fill the database up to the second count (100,000; --quick 10,000) and a
fresh server measures both again. The first round's payments are the figure set against
the payment floor. Seeding stops when the run's time budget would not leave room for the
round after it; the round is then not measured, and the report's notes say so.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
from pymongo.database import Database

from bench import payment_floor, procs, scale
from bench.run import LONG_DELAY, _timing, settled

if TYPE_CHECKING:
    from bench.run import Context

TEMPLATES = 200  # orders made through the API for the clones to copy (--quick: half)
WARMUP_PAYMENTS = 64  # the floor's warm-up run: pools and connections, before the measure


def payment_count(ctx: Context) -> int:
    return int(ctx.args.payment_orders or (400 if ctx.args.quick else 2000))


def stored_counts(ctx: Context) -> list[int]:
    spec = ctx.args.stored or ("1000,10000" if ctx.args.quick else "1000,100000")
    counts = [int(x) for x in spec.split(",")]
    if len(counts) != 2 or counts[0] > counts[1]:
        raise SystemExit(f"--stored takes two counts, the smaller first: {spec!r}")
    return counts


def run_floor(ctx: Context, results: dict[str, Any]) -> None:
    count = payment_count(ctx)
    prefix = f"p{ctx.run_id}"
    limit = max(min(ctx.budget.left() - 10, 60.0 if ctx.args.quick else 120.0), 5.0)
    with ctx.server("payfloor", "payfloor") as server, ctx.mongo() as client:
        db = client[ctx.db_name("payfloor")]
        now = dt.datetime.now(dt.UTC)
        ctx.progress(f"payment floor: seeding {count:,} Pending orders")
        for name, n in ((prefix + "w", WARMUP_PAYMENTS), (prefix, count)):
            db.orders.insert_many(list(payment_floor.pending_orders(name, n, now)))
        _floor_run(ctx, server, prefix + "w", WARMUP_PAYMENTS, limit, "warm-up")
        answer = _floor_run(ctx, server, prefix, count, limit, f"paying {count:,}")
        started = answer["started"]
        times = [
            (started, doc["paidAt"].timestamp())
            for doc in db.orders.find(
                {**_numbered(prefix), "status": "Paid"}, {"paidAt": 1, "_id": 0}
            )
        ]
    floor = _timing(started, count, len(times), 0.0, times)
    for key in ("create_seconds", "create_rps"):
        floor.pop(key)
    floor.update(
        orders=count,
        stored=count + WARMUP_PAYMENTS,
        concurrency=ctx.args.connections,
        payment_p50_ms=answer["p50_ms"],
        payment_p99_ms=answer["p99_ms"],
        failed=answer["failed"],
    )
    results["payfloor"] = floor
    if floor["paid"] < count:
        results["meta"]["notes"].append(
            f"payfloor: {floor['paid']:,} of {count:,} Paid within the time left "
            f"({', '.join(answer['failed'][:2]) or 'no failures'}); paid/s counts those"
        )
    ctx.console.say(
        f"  payment floor {floor['paid']:,}/{count:,} Paid: {floor.get('paid_per_s')} paid/s; "
        f"one payment p50 {answer['p50_ms']} ms, p99 {answer['p99_ms']} ms"
    )


def _floor_run(
    ctx: Context, server: procs.Server, prefix: str, count: int, limit: float, label: str
) -> dict[str, Any]:
    """The floor pays `count` orders; its answer (the request lasts as long as the run)."""
    ctx.progress(f"payment floor: {label}")
    answer = httpx.post(
        f"{server.base_url}/floor/payments/run",
        json={
            "prefix": prefix,
            "count": count,
            "concurrency": ctx.args.connections,
            "seconds": limit,
        },
        timeout=limit + 60,
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def run_payments(ctx: Context, results: dict[str, Any]) -> None:
    count = payment_count(ctx)
    stored = stored_counts(ctx)
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": LONG_DELAY}
    out: dict[str, Any] = {"orders": count, "targets": stored}
    results["payments"] = out
    notes: list[str] = results["meta"]["notes"]
    prefix = f"s{ctx.run_id}"
    with ctx.mongo() as client:
        db = client[ctx.db_name("payments")]
        with ctx.server("payflow", "payments", env) as server:
            templates_wanted = min(TEMPLATES // 2 if ctx.args.quick else TEMPLATES, stored[0])
            made = _make_templates(ctx, server, db, prefix, templates_wanted)
        templates = scale.read_templates(db, made)
        out["templates"] = len(templates)
        cloned = 0
        for n, target in enumerate(stored):
            have = db.orders.estimated_document_count()
            wanted = max(target - have, 0)
            started = time.monotonic()
            deadline = started + ctx.budget.left() - _round_seconds(ctx)
            seeded = scale.seed(db, templates, prefix, cloned, wanted, deadline, ctx.progress)
            cloned += seeded
            seconds = time.monotonic() - started
            if seeded < wanted or ctx.budget.left() < _round_seconds(ctx):
                notes.append(
                    f"payments: not measured at {target:,} stored orders: the run's time "
                    f"budget ran short ({have + seeded:,} stored, {seeded:,} of them seeded "
                    f"in {seconds:.0f} s)"
                )
                break
            round_: dict[str, Any] = {
                "stored": db.orders.estimated_document_count(),
                "seeded": seeded,
                "seed_seconds": round(seconds, 1),
            }
            with ctx.server("payflow", "payments", env) as server:
                tag = f"{prefix}r{n}"
                ctx.wrk(server, "create.lua", [f"{tag}w"], "create (warm-up)", ctx.warmup())
                create = ctx.wrk(server, "create.lua", [f"{tag}c"], "create", _create_seconds(ctx))
                round_["create"] = create.as_dict()
                round_.update(_paid_alone(ctx, server, db, count, f"{tag}p", create.rps))
                round_["rss_mb"] = round(server.rss_bytes() / 2**20, 1)
            out["small" if n == 0 else "large"] = round_
            notes += _doubts(round_)
            ctx.console.say(
                f"  payments at {round_['stored']:,} stored: create {create.rps:,.1f} req/s "
                f"(p99 {create.p99_ms:.1f} ms); {round_.get('paid', 0):,}/{count:,} Paid, "
                f"{round_.get('paid_per_s')} paid/s"
                + (f" (seeded {seeded:,} in {seconds:.0f} s)" if seeded else "")
            )


def _doubts(round_: dict[str, Any]) -> list[str]:
    """What makes a round's payments figure less than it seems, for the report's notes."""
    where = f"payments at {round_['stored']:,} stored"
    doubts = []
    if round_.get("paid", 0) < round_.get("created", 0):
        doubts.append(
            f"{where}: {round_.get('paid', 0):,} of {round_.get('created', 0):,} Paid within "
            "the time left; paid/s counts those"
        )
    if round_.get("due_after_last_made_s", 0) < 0:
        doubts.append(
            f"{where}: orders fell due before the last was made, so their creation "
            "overlapped the payments measured"
        )
    return doubts


def _round_seconds(ctx: Context) -> float:
    """About what one round takes after its seeding (server, create, payments)."""
    return 25.0 if ctx.args.quick else 60.0


def _create_seconds(ctx: Context) -> float:
    return min(ctx.duration, 3.0 if ctx.args.quick else 5.0)


def _make_templates(
    ctx: Context, server: procs.Server, db: Database[dict[str, Any]], prefix: str, count: int
) -> list[str]:
    """Orders made and paid through the API, whose documents the clones copy."""
    ctx.progress(f"payments: making {count} orders to clone")
    numbers = [scale.template_number(prefix, n) for n in range(count)]
    with httpx.Client(base_url=server.base_url, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda number: scale.make_order(http, number), numbers))
    procs.wait_until(
        lambda: settled(db, dt.datetime.now(dt.UTC)),
        deadline=time.monotonic() + 60,
        label="payments: paying the orders to clone",
        progress=ctx.progress,
    )
    return numbers


def _paid_alone(
    ctx: Context,
    server: procs.Server,
    db: Database[dict[str, Any]],
    count: int,
    prefix: str,
    create_rps: float,
) -> dict[str, Any]:
    """Make `count` orders all due at one moment after the last is made, then time their
    payments from that moment to the last Paid."""
    lead = count / max(create_rps, 50.0) * 1.5 + 1.0
    due = time.time() + lead
    t0 = time.monotonic()
    ctx.wrk(
        server, "create.lua",
        [prefix, str(math.ceil(count / ctx.args.threads)), f"dueAt={int(due * 1000)}"],
        f"payments: creating {count:,}", lead + 30, tally=ctx.tally(prefix, count),
    )  # fmt: skip
    create_seconds = time.monotonic() - t0
    limit = min(ctx.budget.left() - 5, 60.0 if ctx.args.quick else 120.0)
    due_by = dt.datetime.fromtimestamp(due + 5, dt.UTC)
    procs.wait_until(
        lambda: time.time() > due and settled(db, due_by),
        deadline=time.monotonic() + max(due - time.time(), 0) + limit,
        label=f"payments: paying {count:,}",
        progress=ctx.progress,
        interval=1.0,
    )
    docs = list(
        db.orders.find(
            _numbered(prefix), {"createdAt": 1, "paidAt": 1, "status": 1, "processing.dueAt": 1}
        )
    )
    if not docs:
        return {"created": 0, "paid": 0}
    first_due = min(doc["processing"]["dueAt"].timestamp() for doc in docs)
    last_made = max(doc["createdAt"].timestamp() for doc in docs)
    times = [
        (doc["processing"]["dueAt"].timestamp(), doc["paidAt"].timestamp())
        for doc in docs
        if doc["status"] == "Paid"
    ]
    paid = _timing(first_due, len(docs), len(times), create_seconds, times)
    paid["due_after_last_made_s"] = round(first_due - last_made, 2)
    return paid


def _numbered(prefix: str) -> dict[str, Any]:
    """Orders whose number starts with `prefix` and a dash (wrk's and the floor's): a range
    of the unique orderNumber index, never a scan."""
    return {"orderNumber": {"$gte": f"{prefix}-", "$lt": f"{prefix}."}}
