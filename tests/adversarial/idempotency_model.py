"""A model of DESIGN §1.1 and a Hypothesis state machine that holds payflow to it.

The model says, for any request at any time, which response comes back: a fresh
execution (201, or 409 order-exists), a byte-identical replay, 422 key-reused or
409 in-progress, and which orders exist. The machine drives the real HTTP app with
an injected clock through fresh keys, replays (formatted differently: the same
request), reused keys and order numbers, concurrent bursts, the 24 h retention and
the 30 s lease, and holders that die before or after inserting their order.

The machine is database-agnostic: `tests/adversarial/test_idempotency_model.py`
runs it on mongomock and on the real embedded MongoDB-wire server.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from anyio.from_thread import BlockingPortal
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from payflow import idempotency
from payflow.api.body import decode_json_object
from payflow.api.orders.schemas import created
from payflow.domain.orders import Order, OrderStatus, new_order_id
from payflow.lifespan import GLOBAL_SCOPE
from payflow.store.base import IdempotencyRef
from tests.adversarial.harness import SyncClient, running_app
from tests.adversarial.scale import count
from tests.support import FakeClock

ROUTE = "/api/orders"
ORDER_NUMBERS = ["A-1", "A-2", "B-1", "B-2", "C-1"]
AMOUNTS = {  # currency → equal amounts written differently (one request, one fingerprint)
    "USD": [["149.99", "149.990"], ["75", "75.0", "75.00"], ["0.01", "0.010"]],
    "JPY": [["1500", "1500.0"]],
    "KWD": [["1.234", "1.2340"]],
}
CLOCK_STEPS = [1, 29, 31, 3600, 23 * 3600, 24 * 3600 + 1]  # seconds: around lease and retention
key_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)


@dataclass(frozen=True)
class Body:
    """One create-order request; `texts` are interchangeable spellings of its amount."""

    order_number: str
    currency: str
    texts: tuple[str, ...]

    def render(self, style: int) -> bytes:
        """The same JSON object, its keys, spacing and amount spelled per `style`."""
        amount = self.texts[style % len(self.texts)]
        fields = [
            f'"orderNumber":"{self.order_number}"',
            f'"amount":{amount}',
            f'"currency":"{self.currency}"',
        ]
        if style & 1:
            fields.reverse()
        separator = ", \n " if style & 2 else ","
        return ("{" + separator.join(fields) + "}").encode()

    @property
    def fingerprint(self) -> str:
        return idempotency.fingerprint("POST", ROUTE, decode_json_object(self.render(0)))

    @property
    def amount(self) -> Decimal:
        return Decimal(self.texts[0])


def body_strategy() -> st.SearchStrategy[Body]:
    return st.sampled_from(sorted(AMOUNTS)).flatmap(
        lambda currency: st.builds(
            Body,
            st.sampled_from(ORDER_NUMBERS),
            st.just(currency),
            st.sampled_from([tuple(t) for t in AMOUNTS[currency]]),
        )
    )


@dataclass
class KeyState:
    """What the model knows about one key's record."""

    body: Body
    expires_at: datetime
    status: int | None = None  # stored status; None while a (dead) holder has it in flight
    content: bytes = b""
    location: str | None = None
    lease_expires_at: datetime | None = None


@dataclass
class ModelOrder:
    order_id: str
    key: str
    fingerprint: str


@dataclass
class Expected:
    """How the model says a request is answered."""

    kind: str  # "execute" | "replay" | "reused" | "in-progress"
    key_state: KeyState | None = None


class IdempotencyMachine(RuleBasedStateMachine):
    """Subclasses set `portal` and `new_database` (a fresh database per example)."""

    portal: ClassVar[BlockingPortal]
    new_database: ClassVar[Callable[[], Awaitable[Any]]]
    drop_database: ClassVar[Callable[[Any], Awaitable[Any]] | None] = None
    suite: ClassVar[str] = "idempotency_model"

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.stack = ExitStack()
        self.keys: dict[str, KeyState] = {}
        self.orders: dict[str, ModelOrder] = {}
        self.fresh = 0
        self.database = self.portal.call(type(self).new_database)
        self.client: SyncClient = self.stack.enter_context(
            running_app(self.database, self.clock, self.portal)
        )

    def teardown(self) -> None:
        drop = type(self).drop_database
        if drop is not None:  # on the app's loop, which the database is bound to
            self.client.call(drop, self.database)
        self.stack.close()

    # --- the model ------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now

    def new_key(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}#{self.fresh}"

    def live(self, key: str) -> KeyState | None:
        state = self.keys.get(key)
        return state if state is not None and state.expires_at > self.now else None

    def expect(self, key: str, body: Body) -> Expected:
        state = self.live(key)
        if state is None:
            return Expected("execute")
        if state.body.fingerprint != body.fingerprint:
            return Expected("reused", state)
        if state.status is not None:
            return Expected("replay", state)
        assert state.lease_expires_at is not None
        if state.lease_expires_at > self.now:
            return Expected("in-progress", state)
        return Expected("execute", state)  # takeover of a dead holder's lease

    def adopted(self, body: Body) -> ModelOrder | None:
        """The order an execution of `body` meets under its order number, if any."""
        return self.orders.get(body.order_number)

    # --- requests ---------------------------------------------------------------------------

    def post(self, key: str, body: Body, style: int) -> httpx.Response:
        response = self.client.post(
            ROUTE,
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            content=body.render(style),
        )
        self.check_envelope(response)
        count(self.suite, examples=1)
        return response

    @staticmethod
    def check_envelope(response: httpx.Response) -> None:
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["type"].startswith("/problems/")
            assert problem["title"]

    @staticmethod
    def problem_type(response: httpx.Response) -> str:
        slug: str = response.json()["type"].rsplit("/", 1)[-1]
        return slug

    def apply(self, key: str, body: Body, response: httpx.Response) -> None:
        """Check one response against the model, then move the model along."""
        expected = self.expect(key, body)
        replayed = response.headers.get("idempotent-replayed")
        if expected.kind == "reused":
            assert response.status_code == 422, response.text
            assert self.problem_type(response) == "idempotency-key-reused"
            assert replayed is None
            return
        if expected.kind == "in-progress":
            assert response.status_code == 409, response.text
            assert self.problem_type(response) == "idempotency-in-progress"
            assert response.headers["retry-after"] == "1"
            return
        if expected.kind == "replay":
            state = expected.key_state
            assert state is not None
            assert replayed == "true"
            assert response.status_code == state.status
            assert response.content == state.content  # byte for byte
            assert response.headers.get("location") == state.location
            return
        assert replayed is None
        self.executed(key, body, response, expected.key_state)

    def executed(
        self, key: str, body: Body, response: httpx.Response, previous: KeyState | None
    ) -> None:
        existing = self.adopted(body)
        if existing is None:
            assert response.status_code == 201, response.text
            created = response.json()
            assert created["orderNumber"] == body.order_number
            assert Decimal(str(created["amount"])) == body.amount
            assert response.headers["location"] == f"{ROUTE}/{body.order_number}"
            self.orders[body.order_number] = ModelOrder(created["id"], key, body.fingerprint)
        elif existing.key == key and existing.fingerprint == body.fingerprint:
            # This key's own earlier (or dead holder's) order: the result, never a conflict.
            assert response.status_code == 201, response.text
            assert response.json()["id"] == existing.order_id
        else:
            assert response.status_code == 409, response.text
            assert self.problem_type(response) == "order-exists"
        takeover = previous is not None and previous.expires_at > self.now
        self.keys[key] = KeyState(
            body=body,
            expires_at=previous.expires_at if takeover and previous else self.now + self.retention,
            status=response.status_code,
            content=response.content,
            location=response.headers.get("location"),
        )

    @property
    def retention(self) -> timedelta:
        return timedelta(seconds=self.client.runtime.idempotency_policy.retention.total_seconds())

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.client.runtime.idempotency_policy.lease.total_seconds())

    def known_keys(self) -> list[str]:
        return sorted(self.keys)

    # --- rules ------------------------------------------------------------------------------

    @rule(prefix=key_text, body=body_strategy(), style=st.integers(0, 7))
    def create_with_fresh_key(self, prefix: str, body: Body, style: int) -> None:
        key = self.new_key(prefix)
        self.apply(key, body, self.post(key, body, style))

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), style=st.integers(0, 7))
    def replay_a_key(self, data: st.DataObject, style: int) -> None:
        key = data.draw(st.sampled_from(self.known_keys()), label="key")
        body = self.keys[key].body
        self.apply(key, body, self.post(key, body, style))

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), body=body_strategy(), style=st.integers(0, 7))
    def reuse_a_key_with_another_body(self, data: st.DataObject, body: Body, style: int) -> None:
        key = data.draw(st.sampled_from(self.known_keys()), label="key")
        self.apply(key, body, self.post(key, body, style))

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), prefix=key_text, style=st.integers(0, 7))
    def reuse_an_order_number_under_another_key(
        self, data: st.DataObject, prefix: str, style: int
    ) -> None:
        number = data.draw(st.sampled_from(sorted(self.orders)), label="order number")
        owner = self.keys.get(self.orders[number].key)
        body = owner.body if owner is not None else Body(number, "USD", ("1",))
        key = self.new_key(prefix)
        self.apply(key, body, self.post(key, body, style))

    @rule(
        data=st.data(),
        body=body_strategy(),
        size=st.integers(2, 8),
        reuse=st.booleans(),
        prefix=key_text,
    )
    def burst_of_one_key(
        self, data: st.DataObject, body: Body, size: int, reuse: bool, prefix: str
    ) -> None:
        if reuse and self.keys:
            key = data.draw(st.sampled_from(self.known_keys()), label="key")
            body = self.keys[key].body
        else:
            key = self.new_key(prefix)
        expected = self.expect(key, body)
        responses = self._burst([(key, body)] * size)
        if expected.kind != "execute":
            for response in responses:
                self.apply(key, body, response)
            return
        # Exactly one request executes; the others saw it in flight or replay its result.
        fresh = [r for r in responses if r.headers.get("idempotent-replayed") is None]
        executed = [r for r in fresh if self._is_execution(r)]
        assert len(executed) == 1, [(r.status_code, r.text) for r in responses]
        self.apply(key, body, executed[0])
        for response in responses:
            if response is executed[0]:
                continue
            if response.headers.get("idempotent-replayed") == "true":
                self.apply(key, body, response)
            else:
                assert response.status_code == 409, response.text
                assert self.problem_type(response) == "idempotency-in-progress"

    @rule(number=st.sampled_from(ORDER_NUMBERS), size=st.integers(2, 6), prefix=key_text)
    def burst_of_one_order_number(self, number: str, size: int, prefix: str) -> None:
        body = Body(number, "USD", ("10", "10.00"))
        keys = [self.new_key(prefix) for _ in range(size)]
        responses = self._burst([(key, body) for key in keys])
        created = [(k, r) for k, r in zip(keys, responses, strict=True) if r.status_code == 201]
        existing = self.adopted(body)
        assert len(created) == (0 if existing is not None else 1), [r.text for r in responses]
        for key, response in created + [
            (k, r) for k, r in zip(keys, responses, strict=True) if r.status_code != 201
        ]:
            self.apply(key, body, response)

    @rule(seconds=st.sampled_from(CLOCK_STEPS))
    def advance_the_clock(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(prefix=key_text, body=body_strategy(), inserted=st.booleans())
    def holder_dies_in_flight(self, prefix: str, body: Body, inserted: bool) -> None:
        """A request claims a fresh key, maybe inserts its order, and its process dies.

        As `POST /api/orders` does: the claim names the order, and the order keeps the
        response, so once it is inserted the key replays it (no later write completes it).
        """
        key = self.new_key(prefix)
        store = self.client.runtime.store
        policy = self.client.runtime.idempotency_policy
        claim = self.client.call(
            idempotency.begin,
            store.idempotency,
            GLOBAL_SCOPE,
            key,
            body.fingerprint,
            self.now,
            policy,
            body.order_number,
        )
        assert isinstance(claim, idempotency.Claim)
        self.keys[key] = KeyState(
            body=body,
            expires_at=self.now + self.retention,
            lease_expires_at=self.now + self.lease,
        )
        if inserted and body.order_number not in self.orders:
            order = Order(
                id=new_order_id(),
                order_number=body.order_number,
                amount=body.amount,
                currency=body.currency,
                status=OrderStatus.PENDING,
                payment_method="pm_card_visa",
                created_at=self.now,
                updated_at=self.now,
                scope=GLOBAL_SCOPE,  # as the create it stands for would have set it
            )
            ref = IdempotencyRef(GLOBAL_SCOPE, key, body.fingerprint)
            response = created(order)
            self.client.call(store.orders.insert, order, ref, self.now, response)
            self.orders[body.order_number] = ModelOrder(order.id, key, body.fingerprint)
            state = self.keys[key]
            state.status, state.content = response.status, response.body
            state.location = response.headers["location"]

    @precondition(lambda self: any(s.status == 201 for s in self.keys.values()))
    @rule(data=st.data())
    def completed_key_falls_back_in_flight(self, data: st.DataObject) -> None:
        """The record is put back to in_progress without a response and without naming its
        order: a holder that died before `finish` completed the record by a write of its
        own, as every record was completed before orders kept their create's response."""
        live = [k for k, s in sorted(self.keys.items()) if s.status == 201 and self.live(k)]
        if not live:
            return
        key = data.draw(st.sampled_from(live), label="key")
        state = self.keys[key]
        store = self.client.runtime.store.idempotency
        existing = self.client.call(store.find, GLOBAL_SCOPE, key)
        if existing is None or existing.expires_at <= self.now:
            return  # its order keeps the key's use: no record of its own to fall back
        assert existing.state == idempotency.COMPLETED
        in_flight = replace(
            existing,
            state=idempotency.IN_PROGRESS,
            lease_token=f"dead-{key}",
            lease_expires_at=self.now + self.lease,
            response=None,
            result_order=None,
        )
        assert self.client.call(store.replace_if_token, existing.lease_token, in_flight)
        state.status, state.content, state.location = None, b"", None
        state.lease_expires_at = self.now + self.lease

    def _burst(self, requests: list[tuple[str, Body]]) -> list[httpx.Response]:
        responses = self.client.concurrently(
            [
                {
                    "method": "POST",
                    "url": ROUTE,
                    "headers": {"Idempotency-Key": key, "Content-Type": "application/json"},
                    "content": body.render(index),
                }
                for index, (key, body) in enumerate(requests)
            ]
        )
        for response in responses:
            self.check_envelope(response)
        count(self.suite, examples=len(responses))
        return responses

    @staticmethod
    def _is_execution(response: httpx.Response) -> bool:
        if response.status_code == 201:
            return True
        return response.status_code == 409 and response.json()["type"].endswith("/order-exists")

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def one_order_per_order_number_and_exactly_the_modelled_ones(self) -> None:
        docs = self.client.call(self._all_orders)
        numbers = Counter(doc["orderNumber"] for doc in docs)
        assert all(n == 1 for n in numbers.values()), numbers
        assert {doc["orderNumber"]: doc["_id"] for doc in docs} == {
            number: order.order_id for number, order in self.orders.items()
        }

    @invariant()
    def every_order_has_a_completed_or_recoverable_key_record(self) -> None:
        records = {doc["key"]: doc for doc in self.client.call(self._all_records)}
        saved = {
            doc["orderNumber"]: doc["idempotency"]
            for doc in self.client.call(self._all_orders)
            if "idempotency" in doc
        }
        for number, order in self.orders.items():
            state = self.keys.get(order.key)
            if state is None or state.expires_at <= self.now:
                continue  # retention is over: the key may be reused, the order stays
            record = records.get(order.key)
            if record is None:
                # A create's order keeps its key's use itself (idempotency.execute_keeping).
                kept = saved[number]
                assert (kept["key"], kept["fingerprint"]) == (order.key, order.fingerprint)
                assert kept["response"]["status"] == 201
                assert json.loads(bytes(kept["response"]["body"]))["id"] == order.order_id
                continue
            if record["fingerprint"] != order.fingerprint:
                continue  # the key was reused after its retention with another request
            if record["state"] == idempotency.COMPLETED:
                stored = record["response"]
                assert stored["status"] == 201
                assert json.loads(bytes(stored["body"]))["id"] == order.order_id
            elif record.get("resultOrder") == number:
                # Completed by its order, which keeps the response for the key's replays.
                assert record["state"] == idempotency.IN_PROGRESS
                stored = saved[number]["response"]
                assert stored["status"] == 201
                assert json.loads(bytes(stored["body"]))["id"] == order.order_id
            else:
                assert record["state"] == idempotency.IN_PROGRESS  # a takeover adopts it

    async def _all_orders(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.database.orders.find(
            {}, {"orderNumber": 1, "idempotency": 1}
        ).to_list(None)
        return found

    async def _all_records(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.database.idempotency.find({}).to_list(None)
        return found


def machine_on(
    portal: BlockingPortal,
    new_database: Callable[[], Awaitable[Any]],
    drop_database: Callable[[Any], Awaitable[Any]] | None = None,
    suite: str = "idempotency_model",
) -> type[IdempotencyMachine]:
    """The machine bound to a portal and a database factory (a fresh database per example)."""
    return type(
        "IdempotencyModel",
        (IdempotencyMachine,),
        {
            "portal": portal,
            "new_database": staticmethod(new_database),
            "drop_database": None if drop_database is None else staticmethod(drop_database),
            "suite": suite,
        },
    )
