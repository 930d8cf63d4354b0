"""Orders, and the payment job that lives on each order document (`processing`).

Refunds are counted on the order itself (`refundedMinor`, plus a `refunds` ledger of
ids and amounts), so one conditional update decides whether a refund fits: the sum of
refunds can never pass the amount, however many arrive at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bson import Decimal128
from pymongo import DESCENDING, ReturnDocument

from payflow.domain.money import from_minor, to_minor
from payflow.domain.orders import (
    EXPIRED,
    REFUNDABLE,
    REQUESTED_BY_CUSTOMER,
    CaptureMethod,
    Funds,
    Order,
    OrderStatus,
    keyed_order_id,
)
from payflow.ids import token as new_token
from payflow.store.base import (
    IdempotencyRecord,
    IdempotencyRef,
    Job,
    KeptUse,
    KeyUses,
    ListPage,
    OrderNumberTaken,
    OrderWithRef,
    PaymentApplied,
    StoredResponse,
)
from payflow.store.mongo import jobs
from payflow.store.mongo.batching import Batcher, find_each, insert_each, update_each
from payflow.store.mongo.common import after_cursor, encode_cursor
from payflow.store.mongo.idempotency import response_doc, stored_response
from payflow.store.mongo.journal import staged
from payflow.store.mongo.outages import translating_outages
from payflow.timefmt import as_utc

if TYPE_CHECKING:
    from payflow.store.mongo.journal import JournalBarrier
    from payflow.store.mongo.motor_types import Collection


_ORDER_PROJECTION = {"processing": 0, "idempotency": 0, "refunds": 0}


@translating_outages
class MongoOrderStore:
    def __init__(self, collection: Collection, journal: JournalBarrier | None = None) -> None:
        self.collection = collection
        self.staged = staged(collection)
        self.journal = journal
        # Concurrent inserts and claims go to the database together (store/mongo/batching.py).
        # Journaled: a create's one write, durable when it is acknowledged (group commit
        # comes from the batch: one journal flush for every order in it).
        self._inserts: Batcher[dict[str, Any], bool] = Batcher(
            lambda docs: insert_each(self.collection, docs)
        )
        self._claims: Batcher[_ClaimAsk, dict[str, Any] | None] = Batcher(self._claim_due)
        self._finishes: Batcher[_FinishAsk, bool] = Batcher(self._finish_held)
        self._payments: Batcher[tuple[dict[str, Any], dict[str, Any]], bool] = Batcher(
            lambda items: update_each(self.staged, items)
        )
        self._keyed: Batcher[tuple[str, str], dict[str, Any] | None] = Batcher(self._keys_of)
        self._by_id: Batcher[str, dict[str, Any] | None] = Batcher(
            lambda ids: find_each(self.collection, ids, {"idempotency": 1})
        )

    async def insert(
        self,
        order: Order,
        ref: IdempotencyRef | None,
        due_at: datetime,
        response: StoredResponse | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        doc = _order_doc(order)
        if ref is not None:
            doc["idempotency"] = {
                "scope": ref.scope,
                "key": ref.key,
                "fingerprint": ref.fingerprint,
            }
            if response is not None:  # the key's replays read it here (store/mongo/idempotency)
                doc["idempotency"]["response"] = response_doc(response)
            if expires_at is not None:
                doc["idempotency"]["expiresAt"] = expires_at
        # The payment job lives on the order: creating and enqueueing is one atomic insert.
        doc["processing"] = jobs.queued(due_at)
        # Journaled, batched with concurrent creates.
        if not await self._inserts.submit(doc):
            raise OrderNumberTaken(order.order_number)

    async def key_uses(self, scope: str, key: str, now: datetime) -> KeyUses:
        generation = 0
        while True:
            doc = await self._by_id.submit(keyed_order_id(scope, key, generation))
            keyed = None if doc is None else doc.get("idempotency")
            if keyed is None or keyed.get("response") is None:
                return KeyUses(generation, None)
            expires_at = as_utc(keyed["expiresAt"])
            if expires_at > now:
                ref, response = _creating_key_and_response(keyed)
                assert response is not None
                return KeyUses(generation, KeptUse(ref.fingerprint, response, expires_at))
            generation += 1  # that use's retention is over: the key may make a new order

    async def get(self, order_number: str, scope: str | None = None) -> Order | None:
        doc = await self.collection.find_one(_number(order_number, scope), _ORDER_PROJECTION)
        return None if doc is None else _order(doc)

    async def get_with_ref(self, order_number: str, scope: str) -> OrderWithRef | None:
        doc = await self.collection.find_one(_number(order_number, scope), {"processing": 0})
        if doc is None:
            return None
        keyed = doc.get("idempotency")
        if keyed is None:
            return OrderWithRef(_order(doc), None, None)
        return OrderWithRef(_order(doc), *_creating_key_and_response(keyed))

    async def saved_response(self, record: IdempotencyRecord) -> StoredResponse | None:
        """The response `record`'s create kept on its order, if that order exists for it.

        Replays of creates ask this (batched with each other): one read by orderNumber."""
        if record.result_order is None:
            return None
        keyed = await self._keyed.submit((record.scope, record.result_order))
        if keyed is None:
            return None
        ref, response = _creating_key_and_response(keyed)
        if ref != IdempotencyRef(record.scope, record.key, record.fingerprint):
            return None  # an order of that number made by another key (a 409 for this one)
        return response

    async def _keys_of(self, asks: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """Per (scope, orderNumber), the creating key of that scope's order of that number."""
        found = self.collection.find(
            {"orderNumber": {"$in": list({number for _, number in asks})}},
            {"orderNumber": 1, "scope": 1, "idempotency": 1},
        )
        keyed = {
            (doc.get("scope"), doc["orderNumber"]): doc.get("idempotency") async for doc in found
        }
        return [keyed.get(ask) for ask in asks]

    async def page(
        self, status: OrderStatus | None, limit: int, cursor: str | None, scope: str | None = None
    ) -> ListPage:
        query: dict[str, Any] = after_cursor(cursor, "createdAt")
        if status is not None:
            query["status"] = status.value
        if scope is not None:
            query["scope"] = scope
        found = self.collection.find(query, _ORDER_PROJECTION)
        docs = await found.sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).to_list(limit + 1)
        orders = [_order(doc) for doc in docs[:limit]]
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor(as_utc(last["createdAt"]), last["_id"])
        return ListPage(orders, next_cursor)

    async def cancel(
        self, order_number: str, scope: str | None, now: datetime, reason: str | None = None
    ) -> Order | None:
        # The status test and the change are one write, so the worker's payment job, a
        # capture and a cancel cannot both win. The job is queued again: on a Canceled
        # order it releases any hold and emits `order.canceled` (a holder of the old lease
        # finds it gone and emits nothing more). A Pending order whose job is moving money
        # (or has charged it) is not cancelable: the job decides first (`domain.Funds`).
        update: dict[str, Any] = {
            "status": OrderStatus.CANCELED.value,
            "canceledAt": now,
            "updatedAt": now,
            "processing": jobs.queued(now),
        }
        # A Pending cancel keeps today's bytes unless a reason is given; an authorization's
        # cancel always says why, as Stripe's does.
        for when, reason_now in (
            (_CANCELABLE_WHEN[OrderStatus.PENDING], reason),
            (_CANCELABLE_WHEN[OrderStatus.AUTHORIZED], reason or REQUESTED_BY_CUSTOMER),
        ):
            fields = update if reason_now is None else {**update, "cancellationReason": reason_now}
            doc = await self.collection.find_one_and_update(
                {**_number(order_number, scope), **when},
                {"$set": fields},
                projection=_ORDER_PROJECTION,
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return _order(doc)
        return None

    async def capture(
        self, order_number: str, scope: str | None, captured_minor: int, now: datetime
    ) -> Order | None:
        # One write decides the capture against a cancel or the expiry: only an Authorized
        # order moves, and only once. The job queued with it moves the money and emits.
        return await self._update_then_read(
            {
                **_number(order_number, scope),
                "status": OrderStatus.AUTHORIZED.value,
                "amountMinor": {"$gte": captured_minor},
            },
            {
                "status": OrderStatus.PAID.value,
                "paidAt": now,
                "updatedAt": now,
                "capturedMinor": captured_minor,
                "processing": jobs.queued(now),
            },
        )

    async def expire(self, order_id: str, now: datetime) -> Order | None:
        # The expiry's job holds the lease: the job stays as it is, only the order moves.
        return await self._update_then_read(
            {
                "_id": order_id,
                "status": {"$in": [OrderStatus.PENDING.value, OrderStatus.AUTHORIZED.value]},
                "authorizedUntil": {"$lte": now},
            },
            {
                "status": OrderStatus.CANCELED.value,
                "canceledAt": now,
                "updatedAt": now,
                "cancellationReason": EXPIRED,
            },
        )

    async def mark_funds(
        self, order_id: str, expected: Funds | None, funds: Funds, now: datetime
    ) -> Order | None:
        """Move a wallet-paid order's `funds` from `expected` (None: not started, and the
        order still Pending) to `funds`; the order after, or None when it was not there."""
        query: dict[str, Any] = {"_id": order_id}
        if expected is None:
            query.update({"status": OrderStatus.PENDING.value, "funds": None})
        else:
            query["funds"] = expected.value
        return await self._update_then_read(query, {"funds": funds.value, "updatedAt": now})

    async def _update_then_read(
        self, query: dict[str, Any], fields: dict[str, Any]
    ) -> Order | None:
        """One conditional update, then the order as it is now if the update matched.

        Not `find_one_and_update`: the embedded server scans the whole collection for a
        findAndModify that matches (see `apply_payment`), an update by a unique key not."""
        result = await self.collection.update_one(query, {"$set": fields})
        if result.modified_count != 1:
            return None
        # The same order: by its id, or by its number in its scope (numbers are per scope).
        named = ("_id",) if "_id" in query else ("orderNumber", "scope")
        key = {field: query[field] for field in named if field in query}
        doc = await self.collection.find_one(key, _ORDER_PROJECTION)
        return None if doc is None else _order(doc)

    async def schedule_expiry(self, order_id: str, owner: str, until: datetime) -> bool:
        """Hand the held job back, due when the authorization expires; not once a capture
        or a cancel moved the order (their own job replaced this one)."""
        result = await self.collection.update_one(
            {
                "_id": order_id,
                "status": {"$in": [OrderStatus.PENDING.value, OrderStatus.AUTHORIZED.value]},
                **jobs.held_by(owner),
            },
            {"$set": {"processing": jobs.queued(until), "authorizedUntil": until}},
        )
        if self.journal is not None:
            await self.journal.sync()
        return bool(result.modified_count == 1)

    async def add_refund(
        self, order: Order, refund_id: str, amount_minor: int, now: datetime, *, completes: bool
    ) -> Order | None:
        total = to_minor(order.amount, order.currency)
        left_before = order.refundable_minor - amount_minor
        doc = await self.collection.find_one_and_update(
            {
                "_id": order.id,
                **(
                    {"amountMinor": total}
                    if order.captured_minor is None
                    else {"capturedMinor": order.captured_minor}
                ),
                "status": {"$in": _values(REFUNDABLE)},
                "refundedMinor": left_before if completes else {"$lt": left_before},
                "refunds.id": {"$ne": refund_id},  # a re-run never counts a refund twice
            },
            {
                "$inc": {"refundedMinor": amount_minor, "refundCount": 1},
                "$set": {
                    "status": (
                        OrderStatus.REFUNDED if completes else OrderStatus.PARTIALLY_REFUNDED
                    ).value,
                    "updatedAt": now,
                },
                "$push": {"refunds": {"id": refund_id, "amountMinor": amount_minor, "at": now}},
            },
            projection=_ORDER_PROJECTION,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _order(doc)

    async def refunded_by(self, order_id: str, refund_id: str) -> tuple[Order, int | None] | None:
        # The whole ledger (at most 1,000 small entries, on a rare path): the embedded server
        # refuses `$elemMatch` beside an exclusion projection (found by tests/contract).
        doc = await self.collection.find_one({"_id": order_id}, {"processing": 0, "idempotency": 0})
        if doc is None:
            return None
        entries = [e for e in doc.get("refunds") or [] if e["id"] == refund_id]
        return _order(doc), (int(entries[0]["amountMinor"]) if entries else None)

    async def apply_payment(
        self,
        order_number: str,
        currency: str,
        amount_minor: int,
        target: OrderStatus,
        event_key: str,
        now: datetime,
        failure_code: str | None,
        failure_message: str | None,
        order_id: str | None = None,
    ) -> PaymentApplied:
        if order_id is None:
            # An orderNumber alone (a sender other than payflow): only an unambiguous one.
            found = self.collection.find({"orderNumber": order_number}, {"_id": 1}).limit(2)
            matches = [doc["_id"] async for doc in found]
            if len(matches) != 1:
                return PaymentApplied(applied=False, ambiguous=len(matches) > 1)
            order_id = matches[0]
        update: dict[str, Any] = {
            "status": target.value,
            "updatedAt": now,
            "appliedEventKey": event_key,
        }
        if target is OrderStatus.PAID:
            update["paidAt"] = now
        elif target is OrderStatus.FAILED:
            update["failureCode"] = failure_code
            update["failureMessage"] = failure_message
        # `update_one` and a read, not `find_one_and_update`: the embedded server (SecantusDB
        # 0.7.0b3) scans the whole collection for a findAndModify that matches (measured:
        # ~40 ms at 3,000 orders, growing with them), while an update by `_id` stays ~1 ms.
        # Only one update can move the order out of Pending.
        # Staged (then the receipt, journaled), batched with concurrent receipts' moves.
        moved = await self._payments.submit(
            (
                {
                    "_id": order_id,
                    "orderNumber": order_number,
                    "status": OrderStatus.PENDING.value,
                    "currency": currency,
                    "amountMinor": amount_minor,
                },
                {"$set": update},
            )
        )
        if moved:
            # The receiver needs nothing more; the order is read only to explain a miss.
            return PaymentApplied(applied=True, applied_event_key=event_key, order_id=order_id)
        doc = await self.collection.find_one(
            {"_id": order_id, "orderNumber": order_number}, _ORDER_PROJECTION
        )
        if doc is None:
            return PaymentApplied(applied=False)
        return PaymentApplied(
            applied=False,
            order=_order(doc),
            applied_event_key=doc.get("appliedEventKey"),
            order_id=order_id,
        )

    async def claim_processing(
        self, order_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        # A due queued job, else one whose lease expired (`jobs.claimable`, in turn). The
        # common case, a queued job that is due, is claimed together with the claims other
        # worker tasks make at the same moment (`_claim_due`); a takeover goes on its own.
        doc = await self._claims.submit(_ClaimAsk(order_id, owner, now, lease_until))
        if doc is not None:
            attempts = int(doc["processing"]["attempts"])
            return Job(order=_order(doc), attempts=attempts, took_over=False)
        doc = await self.staged.find_one_and_update(  # then `finish_processing`
            {"_id": order_id, **jobs.claimable(now)[1]},
            {"$set": jobs.lease(owner, lease_until), "$inc": {"processing.attempts": 1}},
            projection={"idempotency": 0, "refunds": 0},
            # The document after the claim, never before it: the embedded server can hand
            # back a stale pre-image when another write (a cancel) lands at that moment,
            # and the job must see the status its claim was made on.
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return Job(order=_order(doc), attempts=int(doc["processing"]["attempts"]), took_over=True)

    async def _claim_due(self, asks: list[_ClaimAsk]) -> list[dict[str, Any] | None]:
        """Claim every due queued job among `asks` in two round trips, whatever their number:
        one update marks them with a fresh token, one read returns what that token marked.
        The latest `now` and lease of the batch apply to all (they differ by microseconds)."""
        return await _per_owner(asks, self._claim_due_for)

    async def _claim_due_for(self, asks: list[_ClaimAsk]) -> list[dict[str, Any] | None]:
        owner = asks[0].owner
        now = max(ask.now for ask in asks)
        lease_until = max(ask.lease_until for ask in asks)
        ids = list(dict.fromkeys(ask.order_id for ask in asks))
        token = new_token()
        await self.staged.update_many(  # then `finish_processing`
            {"_id": {"$in": ids}, **jobs.claimable(now)[0]},
            {
                "$set": {**jobs.lease(owner, lease_until), "processing.claim": token},
                "$inc": {"processing.attempts": 1},
            },
        )
        found = self.collection.find(
            {"_id": {"$in": ids}, "processing.claim": token}, {"idempotency": 0, "refunds": 0}
        )
        claimed = {doc["_id"]: doc async for doc in found}
        # One job per order: a second ask for the same order in this batch gets nothing.
        return [claimed.pop(ask.order_id, None) for ask in asks]

    async def finish_processing(self, order_id: str, owner: str, now: datetime) -> bool:
        if self.journal is None:
            result = await self.collection.update_one(
                {"_id": order_id, **jobs.held_by(owner)}, jobs.finished(now)
            )
            return bool(result.modified_count == 1)
        # Journaled: the job's last write, durable with its deliveries before it.
        finished = await self._finishes.submit(_FinishAsk(order_id, owner, now))
        if not finished:
            await self.journal.sync()  # nothing written here: the deliveries need the flush
        return finished

    async def _finish_held(self, asks: list[_FinishAsk]) -> list[bool]:
        """Mark done every job among `asks` that its asker still holds: one `update_many`
        per owner in the batch (one in practice), where one update per job would cost the
        embedded server its query planning each time (~1 ms, about what the write costs).
        The latest `now` of the batch applies to all (they differ by microseconds). The
        jobs marked carry the batch's token, read back only when some were not."""
        return await _per_owner(asks, self._finish_held_by)

    async def _finish_held_by(self, asks: list[_FinishAsk]) -> list[bool]:
        ids = list(dict.fromkeys(ask.order_id for ask in asks))
        token = new_token()
        done = jobs.finished(max(ask.now for ask in asks))
        done["$set"]["_op"] = token
        result = await self.collection.update_many(
            {"_id": {"$in": ids}, **jobs.held_by(asks[0].owner)}, done
        )
        if result.modified_count == len(ids):
            return [True] * len(asks)
        found = self.collection.find({"_id": {"$in": ids}, "_op": token}, {"_id": 1})
        held = {doc["_id"] async for doc in found}
        return [ask.order_id in held for ask in asks]

    async def due_for_processing(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        return await jobs.due(self.collection, now, limit)

    async def release_leases(self, owner: str, now: datetime) -> int:
        return await jobs.release_leases(self.collection, owner, now)


class _Ask(Protocol):
    @property
    def owner(self) -> str: ...


AskT = TypeVar("AskT", bound=_Ask)
AnswerT = TypeVar("AnswerT")


async def _per_owner(
    asks: list[AskT], run: Callable[[list[AskT]], Awaitable[list[AnswerT]]]
) -> list[AnswerT]:
    """`run` once for each owner's asks in a batch (one processor per store in practice, so
    once), the answers back in the order of `asks`: a claim or a finish names its owner."""
    answers: dict[int, AnswerT] = {}
    for owner in dict.fromkeys(ask.owner for ask in asks):
        mine = [ask for ask in asks if ask.owner == owner]
        answers.update(zip(map(id, mine), await run(mine), strict=True))
    return [answers[id(ask)] for ask in asks]


@dataclass(frozen=True, slots=True)
class _FinishAsk:
    order_id: str
    owner: str
    now: datetime


@dataclass(frozen=True, slots=True)
class _ClaimAsk:
    order_id: str
    owner: str
    now: datetime
    lease_until: datetime


def _number(order_number: str, scope: str | None) -> dict[str, Any]:
    """Find by order number; with a scope, only among that client's orders."""
    return (
        {"orderNumber": order_number}
        if scope is None
        else {
            "orderNumber": order_number,
            "scope": scope,
        }
    )


def _values(statuses: frozenset[OrderStatus]) -> list[str]:
    return sorted(status.value for status in statuses)


def _creating_key_and_response(
    keyed: Mapping[str, Any],
) -> tuple[IdempotencyRef, StoredResponse | None]:
    """An order's `idempotency` field: the key that created it, and the answer kept for the
    key's replays (none on orders inserted before payflow kept it there)."""
    saved = keyed.get("response")
    ref = IdempotencyRef(keyed["scope"], keyed["key"], keyed["fingerprint"])
    return ref, None if saved is None else stored_response(saved)


def _order_doc(order: Order) -> dict[str, Any]:
    return {
        "_id": order.id,
        "orderNumber": order.order_number,
        "amount": Decimal128(order.amount),
        "amountMinor": to_minor(order.amount, order.currency),
        "currency": order.currency,
        "status": order.status.value,
        "paymentMethod": order.payment_method,
        "metadata": dict(order.metadata),
        "createdAt": order.created_at,
        "updatedAt": order.updated_at,
        "paidAt": order.paid_at,
        "failureCode": order.failure_code,
        "failureMessage": order.failure_message,
        "refundedMinor": to_minor(order.amount_refunded, order.currency),
        "canceledAt": order.canceled_at,
        "scope": order.scope,
        "customer": order.customer,
        "captureMethod": order.capture_method.value,
    }


def _order(doc: Mapping[str, Any]) -> Order:
    paid_at = doc.get("paidAt")
    canceled_at = doc.get("canceledAt")
    return Order(
        id=doc["_id"],
        order_number=doc["orderNumber"],
        amount=from_minor(int(doc["amountMinor"]), doc["currency"]),
        currency=doc["currency"],
        status=OrderStatus(doc["status"]),
        payment_method=doc["paymentMethod"],
        created_at=as_utc(doc["createdAt"]),
        updated_at=as_utc(doc["updatedAt"]),
        paid_at=None if paid_at is None else as_utc(paid_at),
        failure_code=doc.get("failureCode"),
        failure_message=doc.get("failureMessage"),
        metadata=dict(doc.get("metadata") or {}),
        amount_refunded=from_minor(int(doc.get("refundedMinor") or 0), doc["currency"]),
        refund_count=int(doc.get("refundCount") or 0),
        canceled_at=None if canceled_at is None else as_utc(canceled_at),
        scope=doc.get("scope"),
        customer=doc.get("customer"),
        capture_method=CaptureMethod(doc.get("captureMethod") or CaptureMethod.AUTOMATIC),
        captured_minor=None if doc.get("capturedMinor") is None else int(doc["capturedMinor"]),
        cancellation_reason=doc.get("cancellationReason"),
        funds=None if doc.get("funds") is None else Funds(doc["funds"]),
        authorized_until=None
        if doc.get("authorizedUntil") is None
        else as_utc(doc["authorizedUntil"]),
    )


# When each status may be canceled: a Pending order unless its job is moving (or has
# taken) wallet money; an Authorized order always (DESIGN §7).
_CANCELABLE_WHEN: dict[OrderStatus, dict[str, Any]] = {
    OrderStatus.PENDING: {
        "status": OrderStatus.PENDING.value,
        "funds": {"$nin": [Funds.MOVING.value, Funds.CHARGED.value]},
    },
    OrderStatus.AUTHORIZED: {"status": OrderStatus.AUTHORIZED.value},
}
