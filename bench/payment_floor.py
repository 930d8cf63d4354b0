"""The payment floor: the least a payment can do, with payflow's runner, driver and write
concern, and no payflow in between.

Per order, only what the contract needs, written as plainly as a developer would (no
batching, no group commit, no job bookkeeping):
- read the due order (`find_one` by `_id`);
- insert the event (journaled), so no webhook names an event a crash could lose;
- sign it (`payflow.signing`, payflow's default scheme and secret from the settings)
  and POST it over HTTP with httpx, as payflow's sender does (through the transport);
- the receiver (`POST /floor/payments/receive`, a bare Litestar route in the same app,
  as payflow receives its own webhooks) verifies the signature, moves the order
  Pending → Paid with one conditional update and inserts the receipt (both journaled)
  before it answers 200.

`POST /floor/payments/run` pays `count` orders seeded beforehand (`pending_orders`, ids
from `order_id`) with `concurrency` tasks, each taking the next order when its last one
is Paid, and answers when all are (or `seconds` have passed): when the first payment
started, how many were paid, and the p50/p99 of one payment (read to 200).

Same settings as payflow: database URI and name, the webhook secret and scheme, the
webhook timeout. The client is `payflow.store.mongo.client.open_client`, and the write
concern payflow's own: journaled (`j=True`), or on a replica set the majority one payflow
uses there (`common.REPLICATED`). Orders have one index besides `_id`, the unique
`orderNumber` the contract requires; events and receipts have `_id` only. Served like
payflow and the other floors (`python -m bench.payment_floor`, `payflow.serving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
from bson import Decimal128
from litestar import Litestar, Request, Response, post
from litestar.datastructures import State

from bench import floors
from payflow import signing
from payflow.config import Settings, load_settings
from payflow.ids import token
from payflow.store.mongo.client import on_a_replica_set, open_client
from payflow.store.mongo.common import JOURNALED, REPLICATED

JSON = "application/json"
RECEIVE_PATH = "/floor/payments/receive"
AMOUNT = Decimal("149.99")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def order_id(prefix: str, n: int) -> str:
    """The id of the `n`th order seeded under `prefix` (the run pays them by these ids)."""
    return f"ord_{prefix}_{n:07d}"


def pending_orders(prefix: str, count: int, now: datetime) -> Iterator[dict[str, Any]]:
    """`count` Pending orders to seed with `insert_many`: the fields a payment reads."""
    for n in range(count):
        yield {
            "_id": order_id(prefix, n),
            "orderNumber": f"{prefix}-{n:07d}",
            "amount": Decimal128(AMOUNT),
            "amountMinor": 14999,
            "currency": "USD",
            "status": "Pending",
            "paymentMethod": "pm_card_visa",
            "createdAt": now,
            "updatedAt": now,
        }


class RunRequest(msgspec.Struct):
    prefix: str
    count: int
    concurrency: int = 32
    seconds: float = 600.0  # no order is started later than this after the first


@post("/floor/payments/run", status_code=200)
async def run(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    ask = msgspec.json.decode(await request.body(), type=RunRequest)
    ids = iter([order_id(ask.prefix, n) for n in range(ask.count)])
    took: list[float] = []
    failed: list[str] = []
    started = time.time()
    stop_at = time.monotonic() + ask.seconds

    async def worker() -> None:
        for oid in ids:  # one iterator shared by every worker: each order is paid once
            if time.monotonic() > stop_at:
                return
            t0 = time.perf_counter()
            error = await pay(state, oid)
            if error is None:
                took.append(time.perf_counter() - t0)
            elif len(failed) < 10:
                failed.append(f"{oid}: {error}")

    await asyncio.gather(*(worker() for _ in range(ask.concurrency)))
    took.sort()
    answer = {
        "started": started,
        "finished": time.time(),
        "paid": len(took),
        "failed": failed,
        "p50_ms": round(took[len(took) // 2] * 1000, 2) if took else None,
        "p99_ms": round(took[min(len(took) - 1, len(took) * 99 // 100)] * 1000, 2)
        if took
        else None,
    }
    return Response(_encoder.encode(answer), media_type=JSON)


async def pay(state: State, oid: str) -> str | None:
    """Pay one order: read it, save its event, sign and send it; None, or what went wrong."""
    order = await state.orders.find_one({"_id": oid})
    if order is None or order["status"] != "Pending":
        return "not a Pending order"
    now = datetime.now(UTC)
    event_id = f"evt_{oid.removeprefix('ord_')}"
    body = _encoder.encode(
        {
            "id": event_id,
            "type": "payment.succeeded",
            "createdAt": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": {
                "orderId": oid,
                "orderNumber": order["orderNumber"],
                "amount": float(order["amount"].to_decimal()),
                "currency": order["currency"],
                "paymentMethod": order["paymentMethod"],
                "status": "Paid",
            },
        }
    )
    await state.events.insert_one(
        {
            "_id": event_id,
            "type": "payment.succeeded",
            "orderNumber": order["orderNumber"],
            "createdAt": now,
            "body": body,
        }
    )
    headers = {
        "Content-Type": JSON,
        **signing.sign(state.scheme, body, state.secrets, int(time.time()), event_id),
    }
    request = httpx.Request(
        "POST", state.receiver, content=body, headers=headers, extensions=state.timeout
    )
    try:
        response = await state.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if response.status_code == 200 else f"HTTP {response.status_code}"


@post(RECEIVE_PATH, status_code=200)
async def receive(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    body = await request.body()
    try:
        signing.verify(
            state.scheme, body, request.headers, state.secrets, int(time.time()), state.tolerance
        )
    except signing.SignatureError as exc:
        return Response(_encoder.encode({"error": exc.reason}), status_code=401, media_type=JSON)
    event = _decoder.decode(body)
    data = event["data"]
    now = datetime.now(UTC)
    moved = await state.orders.update_one(
        {
            "_id": data["orderId"],
            "status": "Pending",
            "currency": data["currency"],
            "amountMinor": round(Decimal(str(data["amount"])) * 100),
        },
        {"$set": {"status": "Paid", "paidAt": now, "updatedAt": now}},
    )
    outcome = "applied" if moved.modified_count == 1 else "duplicate"
    await state.receipts.insert_one(
        {
            "_id": f"rcpt_{token(96)}",
            "eventId": event["id"],
            "orderId": data["orderId"],
            "orderNumber": data["orderNumber"],
            "outcome": outcome,
            "receivedAt": now,
        }
    )
    ack = {"received": True, "eventId": event["id"], "outcome": outcome}
    return Response(_encoder.encode(ack), media_type=JSON)


def create_app(
    settings: Settings | None = None,
    *,
    database: Any = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Litestar:
    """The payment floor on the database `settings` name (a URI is required, as for the
    other floors: scripts/bench starts the database). Test seams: a `database` instead
    of the URI's, a `transport` instead of real HTTP (e.g. to this very app)."""
    settings = settings or load_settings()
    if database is None and not settings.mongo.uri:
        raise SystemExit("the payment floor needs MONGO_URI (scripts/bench starts the database)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            db, concern = database, JOURNALED
            if db is None:
                client = open_client(settings.mongo.uri)
                stack.callback(client.close)
                concern = REPLICATED if await on_a_replica_set(client) else JOURNALED
                db = client[settings.mongo.database]
            state = app.state
            state.orders = db.get_collection("orders", write_concern=concern)
            state.events = db.get_collection("events", write_concern=concern)
            state.receipts = db.get_collection("receipts", write_concern=concern)
            await state.orders.create_index("orderNumber", unique=True)
            state.scheme = signing.Scheme(settings.webhooks.scheme)
            state.secrets = settings.webhook_secrets
            state.tolerance = settings.webhooks.tolerance_seconds
            state.receiver = f"http://{settings.server.host}:{settings.server.port}{RECEIVE_PATH}"
            state.timeout = {"timeout": httpx.Timeout(settings.webhooks.timeout_seconds).as_dict()}
            state.transport = transport or await stack.enter_async_context(
                httpx.AsyncHTTPTransport()
            )
            yield

    return Litestar(route_handlers=[run, receive, floors.ready], lifespan=[lifespan], debug=False)


def main(argv: Sequence[str] | None = None) -> int:
    return floors.main(argv, "bench.payment_floor:create_app", create_app, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
