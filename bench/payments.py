"""Payments alone: payflow's against the payment floor's, and as stored work grows.

`payfloor`: N Pending orders seeded in the payment floor's database (bench/payment_floor.py)
are paid by its bare pipeline, as many at once as wrk has connections; paid/s from the
first payment's start to the last Paid.

`payments`: payflow itself, one server configuration throughout (orders wait an hour
unless they ask otherwise), on two databases of the same server: a small store (1,000
orders) and a large one (100,000; --quick 10,000). A few hundred orders are made and paid
through the API in the small one and cloned (bench/scale.py) to fill both; then, back to
back, a fresh server on each measures
- create: a short wrk run, as the create phase (its orders wait an hour, out of the way);
- payments alone: N orders made with wrk, each asking for the `processingDelayMs` that
  makes all of them due at one moment after the last is made; paid/s from that moment to
  the last Paid (the first due moment, read back from the orders).
The small store's payments are the figure set against the payment floor. Seeding stops
when the run's time budget would leave no room for the rounds; a store short of its count
is measured all the same, and its goals are not judged (the report's notes say so).
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
INDEX_SECONDS_PER_ORDER = 0.0006  # building payflow's indexes after seeding (measured: 0.54)


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
    env = {"PAYFLOW_PROCESSING__DELAY_SECONDS": LONG_DELAY}
    out: dict[str, Any] = {"orders": count, "targets": stored_counts(ctx)}
    results["payments"] = out
    notes: list[str] = results["meta"]["notes"]
    prefix = f"s{ctx.run_id}"
    sizes = dict(zip(("small", "large"), out["targets"], strict=True))
    with ctx.mongo() as client:
        dbs = {size: client[ctx.db_name(f"payments-{size}")] for size in sizes}
        with ctx.server("payflow", "payments-small", env) as server:
            wanted = min(TEMPLATES // 2 if ctx.args.quick else TEMPLATES, sizes["small"])
            made = _make_templates(ctx, server, dbs["small"], prefix, wanted)
        templates = scale.read_templates(dbs["small"], made)
        out["templates"] = len(templates)
        # Both stores first, then both rounds back to back: seeding the larger takes minutes,
        # and the shared machine's speed would drift between rounds that far apart.
        rounds: dict[str, dict[str, Any]] = {}
        cloned = 0
        for size, target in sizes.items():
            db = dbs[size]
            have = db.orders.estimated_document_count()
            started = time.monotonic()
            wanted = max(target - have, 0)
            reserve = 2 * _round_seconds(ctx) + wanted * INDEX_SECONDS_PER_ORDER
            seeded = scale.seed(
                db, templates, prefix, cloned, wanted, started + ctx.budget.left() - reserve,
                ctx.progress,
            )  # fmt: skip
            cloned += seeded
            ctx.progress(f"payments: building payflow's indexes on the {size} store")
            scale.build_indexes(ctx.uri, db.name)  # the large store was never opened
            rounds[size] = {
                "target": target,
                "stored": db.orders.estimated_document_count(),
                "seeded": seeded,
                "seed_seconds": round(time.monotonic() - started, 1),
            }
            if rounds[size]["stored"] < target:
                notes.append(
                    f"payments: {rounds[size]['stored']:,} orders stored of {target:,} (seeded "
                    f"{seeded:,} in {rounds[size]['seed_seconds']:.0f} s) when the run's time "
                    "budget ran short: measured there, not judged"
                )
        ctx.progress("payments: flushing the seeded stores to disk")
        refused = scale.flush(client)
        if refused is not None:
            notes.append(f"payments: the server did not flush the seeded stores: {refused}")
        for size, round_ in rounds.items():
            if ctx.budget.left() < _round_seconds(ctx):
                notes.append(f"payments: the {size} store not measured: no time left")
                break
            with ctx.server("payflow", f"payments-{size}", env) as server:
                round_.update(_round(ctx, server, dbs[size], count, f"{prefix}{size[0]}"))
            out[size] = round_
            notes += _doubts(round_)
            ctx.console.say(
                f"  payments at {round_['stored']:,} stored: create "
                f"{round_['create']['rps']:,.1f} req/s (p99 {round_['create']['p99_ms']:.1f} "
                f"ms); {round_.get('paid', 0):,}/{count:,} Paid, {round_.get('paid_per_s')} "
                f"paid/s (seeded {round_['seeded']:,} in {round_['seed_seconds']:.0f} s)"
            )


def _round(
    ctx: Context, server: procs.Server, db: Database[dict[str, Any]], count: int, tag: str
) -> dict[str, Any]:
    """One store's figures on a fresh server: create req/s, then payments alone."""
    ctx.wrk(server, "create.lua", [f"{tag}w"], "create (warm-up)", ctx.warmup())
    create = ctx.wrk(server, "create.lua", [f"{tag}c"], "create", _create_seconds(ctx))
    figures: dict[str, Any] = {"create": create.as_dict()}
    figures.update(_paid_alone(ctx, server, db, count, f"{tag}p", create.rps))
    figures["rss_mb"] = round(server.rss_bytes() / 2**20, 1)
    return figures


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
    """About what one round takes (server, create, payments): kept for each round when
    seeding, which stops to leave it."""
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
