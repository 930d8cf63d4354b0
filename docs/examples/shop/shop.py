"""A small merchant app on payflow: checkout, then the webhook marks the order paid.

What a shop needs from a payment gateway, and nothing more:

- `POST /checkout {"amount": 25.00, "card": "pm_card_visa"}` records the shop's own order
  and asks payflow for a payment with an Idempotency-Key derived from the shop's order id,
  so a checkout retried after a timeout can never charge twice.
- `POST /webhooks/payflow` verifies payflow's signature (HMAC-SHA256 over `t=<unix>.` and
  the raw body, any `v1` of the `X-Signature` header, timestamps within five minutes) on
  the raw bytes before reading them, then moves the order `awaiting_payment` → `paid` or
  `declined` once: a webhook delivered twice, or an old one arriving late, changes nothing.
  Every verified webhook is answered 200, so payflow stops retrying it.
- `POST /checkout {"amount": 80.00, "captureOnShipment": true}` only authorizes the card
  (payflow's manual capture): `payment.authorized` moves the order to `authorized`, and
  `POST /orders/{id}/ship` captures the money and ships. An authorization left uncaptured
  for seven days is canceled by payflow (`order.canceled`, reason `expired`), and the
  shop's order ends `canceled` with that reason.
- `GET /orders/{id}` shows the shop's order: its status and how often it was fulfilled.

Run it next to `payflow serve` (secret from `POST /api/webhook-endpoints`)::

    PAYFLOW_URL=http://127.0.0.1:8000 WEBHOOK_SECRET=whsec_… python docs/examples/shop/shop.py

Its tests (test_shop.py) run it against the `payflow` pytest fixture.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

TOLERANCE_SECONDS = 300
PAID, DECLINED, AWAITING = "paid", "declined", "awaiting_payment"
AUTHORIZED, CANCELED = "authorized", "canceled"
_decoder = msgspec.json.Decoder(float_hook=Decimal)  # money is never a float
_encoder = msgspec.json.Encoder(decimal_format="number")


class CheckoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    amount: Decimal
    card: str = "pm_card_visa"
    capture_on_shipment: bool = msgspec.field(default=False, name="captureOnShipment")


@dataclass
class ShopOrder:
    id: str
    amount: Decimal
    status: str = AWAITING
    fulfilled: int = 0  # how many times the goods went out: must never pass 1
    decline_code: str | None = None
    cancellation_reason: str | None = None


@dataclass
class Shop:
    """The shop's state (a database in a real shop) and how it reaches payflow."""

    payflow: httpx.AsyncClient
    secret: str
    now: Callable[[], int]
    orders: dict[str, ShopOrder] = field(default_factory=dict)
    seen_events: set[str] = field(default_factory=set)

    def order_id(self) -> str:
        return f"SHOP-{uuid.uuid4().hex[:16]}"


class BadSignature(Exception):
    pass


def verify(secret: str, header: str | None, body: bytes, now: int) -> None:
    """payflow's `X-Signature: t=<unix>,v1=<hex>[,v1=…]`; raises BadSignature."""
    if not header:
        raise BadSignature("no X-Signature header")
    parts = [part.partition("=") for part in header.split(",")]
    timestamps = [value for name, _, value in parts if name == "t"]
    signatures = [value for name, _, value in parts if name == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise BadSignature("malformed X-Signature header")
    if abs(now - int(timestamps[0])) > TOLERANCE_SECONDS:
        raise BadSignature("timestamp too old or too new")
    expected = hmac.new(secret.encode(), f"t={timestamps[0]}.".encode() + body, hashlib.sha256)
    if not any(hmac.compare_digest(expected.hexdigest(), given) for given in signatures):
        raise BadSignature("no signature matches")


def apply(shop: Shop, event: dict[str, Any]) -> str:
    """Move the order the event is about, once. Returns what happened (for logs/tests)."""
    event_id, data = event.get("id"), event.get("data") or {}
    order = shop.orders.get(str(data.get("orderNumber")))
    if order is None:
        return "unknown order"
    if event_id in shop.seen_events:
        return "duplicate"
    shop.seen_events.add(str(event_id))
    kind = event.get("type")
    if kind == "order.canceled" and order.status in (AWAITING, AUTHORIZED):
        order.status, order.cancellation_reason = CANCELED, data.get("cancellationReason")
        return "canceled"  # e.g. an authorization left uncaptured until it expired
    if kind == "payment.authorized" and order.status == AWAITING:
        order.status = AUTHORIZED  # held, not taken: ship to capture it
        return "authorized"
    if order.status != AWAITING:
        return "already settled"  # e.g. a late payment.failed after payment.succeeded
    if kind == "payment.succeeded" and data.get("amount") == order.amount:
        order.status = PAID
        order.fulfilled += 1  # ship it: exactly once, because of the status check above
        return "paid"
    if kind == "payment.failed":
        order.status, order.decline_code = DECLINED, data.get("failureCode")
        return "declined"
    return "ignored"


def order_out(order: ShopOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "amount": str(order.amount),
        "status": order.status,
        "fulfilled": order.fulfilled,
        "declineCode": order.decline_code,
        "cancellationReason": order.cancellation_reason,
    }


async def _ask_payflow_to_charge(
    shop: Shop, order: ShopOrder, card: str, *, capture_on_shipment: bool
) -> bool:
    """POST /api/orders; with `capture_on_shipment` payflow only authorizes (manual
    capture) and the money is taken when the order ships."""
    wanted: dict[str, Any] = {
        "orderNumber": order.id,
        "amount": order.amount,
        "paymentMethod": card,
    }
    if capture_on_shipment:
        wanted["captureMethod"] = "manual"
    return await _post_to_payflow(shop, "/api/orders", wanted, f"checkout-{order.id}") == 201


async def _post_to_payflow(shop: Shop, path: str, body: dict[str, Any], key: str) -> int:
    """POST to payflow, retried on a lost answer or a 5xx/409 with the *same* key: the key is
    derived from the shop's order, so however often it is sent, it takes effect once.
    Returns the final status code (0: no answer at all)."""
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    status = 0
    for _ in range(3):
        try:
            answer = await shop.payflow.post(path, content=_encoder.encode(body), headers=headers)
        except httpx.TransportError:
            continue
        status = answer.status_code
        if status < 500 and status != 409:
            return status  # done (2xx) or refused (400, 422): retrying cannot help
    return status


PayflowHook = Callable[[Any], Awaitable[None]]


def create_shop(
    payflow_url: str,
    webhook_secret: str,
    now: Callable[[], int] = lambda: int(time.time()),
    payflow_hooks: Mapping[str, Sequence[PayflowHook]] | None = None,
) -> Litestar:
    """The shop's app. `now` is the time signatures are checked against: the system clock,
    or payflow's test clock when tests move payflow's time on. `payflow_hooks` are httpx
    event hooks (`{"request": […], "response": […]}`) on the shop's payflow client: a test
    seam, e.g. to ask payflow for a fault (`Payflow-Fault`) or to watch its answers."""

    @post("/checkout", status_code=201)
    async def checkout(request: Request[Any, Any, Any]) -> Response[bytes]:
        wanted = msgspec.json.decode(await request.body(), type=CheckoutRequest)
        shop: Shop = request.app.state.shop
        order = ShopOrder(id=shop.order_id(), amount=wanted.amount)
        shop.orders[order.id] = order
        if not await _ask_payflow_to_charge(
            shop, order, wanted.card, capture_on_shipment=wanted.capture_on_shipment
        ):
            order.status = "payment_unavailable"
            return Response(_encoder.encode(order_out(order)), status_code=502)
        return Response(_encoder.encode(order_out(order)), media_type="application/json")

    @post("/webhooks/payflow", status_code=200)
    async def webhook(request: Request[Any, Any, Any]) -> Response[bytes]:
        shop: Shop = request.app.state.shop
        body = await request.body()  # the raw bytes: verify before parsing
        try:
            verify(shop.secret, request.headers.get("x-signature"), body, shop.now())
        except BadSignature as exc:
            return Response(_encoder.encode({"error": str(exc)}), status_code=400)
        outcome = apply(shop, _decoder.decode(body))
        return Response(_encoder.encode({"received": True, "outcome": outcome}))

    @post("/orders/{order_id:str}/ship", status_code=200)
    async def ship(request: Request[Any, Any, Any], order_id: FromPath[str]) -> Response[bytes]:
        """Capture an authorized order's money at payflow, then ship it (once)."""
        shop: Shop = request.app.state.shop
        order = shop.orders.get(order_id)
        if order is None:
            raise NotFoundException(f"no order {order_id}")
        if order.status != AUTHORIZED:
            return Response(_encoder.encode(order_out(order)), status_code=409)
        captured = await _post_to_payflow(
            shop, f"/api/orders/{order.id}/capture", {}, f"capture-{order.id}"
        )
        if captured != 200:
            return Response(_encoder.encode(order_out(order)), status_code=502)
        order.status = PAID
        order.fulfilled += 1
        return Response(_encoder.encode(order_out(order)), media_type="application/json")

    @get("/orders/{order_id:str}")
    async def show(request: Request[Any, Any, Any], order_id: FromPath[str]) -> Response[bytes]:
        order = request.app.state.shop.orders.get(order_id)
        if order is None:
            raise NotFoundException(f"no order {order_id}")
        return Response(_encoder.encode(order_out(order)), media_type="application/json")

    async def open_client(app: Litestar) -> None:
        hooks = {name: list(found) for name, found in (payflow_hooks or {}).items()}
        client = httpx.AsyncClient(base_url=payflow_url, timeout=10, event_hooks=hooks)
        app.state.shop = Shop(client, webhook_secret, now)

    async def close_client(app: Litestar) -> None:
        await app.state.shop.payflow.aclose()

    return Litestar(
        [checkout, webhook, ship, show], on_startup=[open_client], on_shutdown=[close_client]
    )


if __name__ == "__main__":
    import uvicorn

    app = create_shop(os.environ["PAYFLOW_URL"], os.environ["WEBHOOK_SECRET"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
