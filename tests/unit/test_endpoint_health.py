"""Endpoint health and delivery chaos: the breaker opens, probes once, drains in order;
an endpoint that never recovers is disabled and announced; chaos duplicates and delays.

The worker is off: each test drives the processor and the recovery rounds itself, and
a FakeClock stands in for time, so a 30 s cool-down or 120 hours are one `advance` away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from payflow.domain.endpoint_health import (
    BreakerPolicy,
    CircuitState,
    EndpointStatus,
    Health,
    after_failure,
    after_success,
    take_recovery,
)
from payflow.domain.events import event_id
from payflow.lifespan import build_processor
from payflow.worker.processor import Processor
from payflow.worker.recovery import recovery_round
from tests.support import FakeClock, app_client, make_settings, order_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
ROUTE = "/api/webhook-endpoints"
SHOP_URL = "http://shop.test/webhooks"
OTHER_URL = "http://other.test/webhooks"


@dataclass
class Arrival:
    url: str
    at: datetime
    event_id: str
    event_type: str
    attempt: int
    body: bytes


@dataclass
class Endpoints:
    """The merchant's endpoints: the shop answers `shop_status`, the other always 200."""

    clock: FakeClock
    shop_status: int = 503
    arrivals: list[Arrival] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url not in (SHOP_URL, OTHER_URL):
            return httpx.Response(200, json={"received": True})  # the built-in receiver
        event = msgspec.json.decode(request.content)
        self.arrivals.append(
            Arrival(
                url,
                self.clock(),
                request.headers["x-payflow-event-id"],
                event["type"],
                int(request.headers["x-payflow-delivery-attempt"]),
                request.content,
            )
        )
        return httpx.Response(self.shop_status if url == SHOP_URL else 200)

    def at(self, url: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.url == url]


@pytest.fixture
def endpoints(clock: FakeClock) -> Endpoints:
    return Endpoints(clock)


@pytest.fixture
async def app(mock_db: Any, clock: FakeClock, endpoints: Endpoints) -> AsyncIterator[Client]:
    settings = make_settings(webhooks__breaker_failures=2, webhooks__chaos_seed=7)
    async with (
        httpx.MockTransport(endpoints) as http,
        app_client(mock_db, clock=clock, http_transport=http, settings=settings) as client,
    ):
        yield client


def processor_of(client: Client) -> Processor:
    return build_processor(client.app_runtime, client.app_http)  # type: ignore[attr-defined]


async def register(client: Client, url: str, **extra: Any) -> dict[str, Any]:
    body = msgspec.json.encode({"url": url, **extra})
    response = await client.post(ROUTE, headers={"Idempotency-Key": body.hex()}, content=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def pay(client: Client, processor: Processor, clock: FakeClock, number: str) -> str:
    """Create an order and run its job; its event is a millisecond after the previous one."""
    clock.advance(milliseconds=1)
    created = await client.post(
        "/api/orders", headers={"Idempotency-Key": number}, content=order_body(number)
    )
    await processor.process_order(created.json()["id"])
    return event_id(created.json()["id"], "payment.succeeded")


async def retry_everything_due(client: Client, processor: Processor) -> None:
    """What the queue would do: every delivery due by now gets its turn, earliest first."""
    store = client.app_runtime.store  # type: ignore[attr-defined]
    due = sorted(await store.deliveries.due(processor.clock(), 100), key=lambda d: d[1])
    for delivery_id, _ in due:
        await processor.deliver_by_id(delivery_id)


async def endpoint(client: Client, endpoint_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"{ROUTE}/{endpoint_id}")).json()
    return found


def deferred(client: Client, endpoint_id: str) -> float:
    metrics = client.app_runtime.metrics  # type: ignore[attr-defined]
    value = metrics.registry.get_sample_value(
        "payflow_deliveries_deferred_total", {"endpoint": endpoint_id}
    )
    return float(value or 0.0)


async def test_refusing_endpoint_opens_waits_probes_once_then_drains_in_event_order(
    app: Client, endpoints: Endpoints, clock: FakeClock
) -> None:
    shop = await register(app, SHOP_URL)
    processor = processor_of(app)
    first = [await pay(app, processor, clock, f"EARLY-{i}") for i in range(2)]
    assert len(endpoints.at(SHOP_URL)) == 2  # two refused attempts open the circuit
    opened = await endpoint(app, shop["id"])
    assert opened["circuit"] == "open"
    assert opened["failingSince"] is not None
    opened_at = clock()

    later = [await pay(app, processor, clock, f"LATE-{i}") for i in range(3)]
    clock.advance(seconds=20)
    await retry_everything_due(app, processor)  # the refused ones' retries fall due: parked
    await recovery_round(processor)  # the cool-down (30 s) is not over yet
    assert len(endpoints.at(SHOP_URL)) == 2  # no attempt while open
    assert deferred(app, shop["id"]) >= 3 + 2

    clock.advance(seconds=11)  # cool-down over; still refusing: one probe, re-opened
    await recovery_round(processor)
    assert [a.event_id for a in endpoints.at(SHOP_URL)[2:]] == [first[0]]
    reopened = await endpoint(app, shop["id"])
    assert reopened["circuit"] == "open"

    clock.advance(seconds=59)
    await recovery_round(processor)  # the second cool-down doubled to 60 s
    assert len(endpoints.at(SHOP_URL)) == 3

    endpoints.shop_status = 200
    clock.advance(seconds=2)
    await recovery_round(processor)  # one probe gets through, then the backlog, in order
    arrived = endpoints.at(SHOP_URL)
    assert [a.event_id for a in arrived[3:]] == first + later
    assert (await endpoint(app, shop["id"]))["circuit"] == "closed"
    assert (await endpoint(app, shop["id"]))["failingSince"] is None
    # The attempt log: nothing while open, i.e. between the opening and the cool-down's
    # end (30 s), and between the failed probe and the doubled cool-down's end (60 s).
    first_probe = arrived[2].at
    assert first_probe - opened_at >= timedelta(seconds=30)
    assert arrived[3].at - first_probe >= timedelta(seconds=60)
    assert not [a for a in arrived if opened_at < a.at < first_probe]
    assert not [a for a in arrived if first_probe < a.at < arrived[3].at]

    deliveries = (await app.get(f"{ROUTE}/{shop['id']}/deliveries")).json()
    assert all(d["state"] == "succeeded" for d in deliveries)
    attempts = {d["eventId"]: d["attempts"] for d in deliveries}
    assert attempts[first[0]] == 3  # refused, a refused probe, the probe that got through
    assert attempts[first[1]] == 2  # refused, then sent with the backlog
    assert all(attempts[e] == 1 for e in later)  # waited without spending an attempt


async def test_endpoint_that_never_recovers_is_disabled_announced_and_enabled_again(
    app: Client, endpoints: Endpoints, clock: FakeClock
) -> None:
    shop = await register(app, SHOP_URL)
    other = await register(app, OTHER_URL)
    processor = processor_of(app)
    events = [await pay(app, processor, clock, f"DOWN-{i}") for i in range(2)]
    assert (await endpoint(app, shop["id"]))["circuit"] == "open"

    clock.advance(seconds=31)
    await retry_everything_due(app, processor)  # their retries park behind the circuit
    await recovery_round(processor)  # a probe, refused: open again, for 60 s
    assert len(endpoints.at(SHOP_URL)) == 3
    assert (await endpoint(app, shop["id"]))["status"] == "enabled"

    clock.advance(hours=120)  # no success since the first failure, 120 hours ago
    await recovery_round(processor)  # the next probe, refused: that is enough
    assert len(endpoints.at(SHOP_URL)) == 4
    disabled = await endpoint(app, shop["id"])
    assert disabled["status"] == "disabled"

    await recovery_round(processor)  # announces it
    announced = [a for a in endpoints.at(OTHER_URL) if a.event_type == "endpoint.disabled"]
    assert len(announced) == 1
    data = msgspec.json.decode(announced[0].body)["data"]
    assert data["endpointId"] == shop["id"]
    assert data["failingSince"] == disabled["failingSince"]
    assert not [a for a in endpoints.at(SHOP_URL) if a.event_type == "endpoint.disabled"]
    await recovery_round(processor)
    assert len([a for a in endpoints.at(OTHER_URL) if a.event_type == "endpoint.disabled"]) == 1

    before = len(endpoints.at(SHOP_URL))
    skipped = await pay(app, processor, clock, "WHILE-DISABLED")
    assert len(endpoints.at(SHOP_URL)) == before  # a disabled endpoint gets no new events
    assert skipped in [a.event_id for a in endpoints.at(OTHER_URL)]

    endpoints.shop_status = 200
    response = await app.post(f"{ROUTE}/{shop['id']}/enable", headers={"Idempotency-Key": "en"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "enabled"
    assert response.json()["circuit"] == "closed"
    assert response.json()["failingSince"] is None
    replay = await app.post(f"{ROUTE}/{shop['id']}/enable", headers={"Idempotency-Key": "en"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert other["id"] != shop["id"]

    await recovery_round(processor)  # the backlog from before drains, in order
    assert [a.event_id for a in endpoints.at(SHOP_URL)[before:]] == events
    after = await pay(app, processor, clock, "AFTER-ENABLE")
    assert endpoints.at(SHOP_URL)[-1].event_id == after


async def test_enable_of_an_unknown_endpoint_is_404(app: Client) -> None:
    response = await app.post(f"{ROUTE}/we_nope/enable", headers={"Idempotency-Key": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_endpoints_show_health_fields_and_chaos(app: Client) -> None:
    created = await register(app, SHOP_URL, chaos={"duplicateRate": 0.5, "reorderWindowMs": 250})
    assert created["chaos"] == {"duplicateRate": 0.5, "reorderWindowMs": 250}
    assert (created["status"], created["circuit"], created["failingSince"]) == (
        "enabled",
        "closed",
        None,
    )
    built_in = await endpoint(app, "we_default")
    assert (built_in["status"], built_in["circuit"]) == ("enabled", "closed")


@pytest.mark.parametrize(
    "chaos",
    [{"duplicateRate": 1.5}, {"reorderWindowMs": -1}, {"duplicateRate": "x"}, {"other": 1}],
)
async def test_invalid_chaos_is_a_validation_error(app: Client, chaos: dict[str, Any]) -> None:
    body = msgspec.json.encode({"url": SHOP_URL, "chaos": chaos})
    response = await app.post(ROUTE, headers={"Idempotency-Key": body.hex()}, content=body)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/validation-error"


async def test_chaos_sends_every_event_twice_and_out_of_order(
    app: Client, endpoints: Endpoints, clock: FakeClock
) -> None:
    endpoints.shop_status = 200
    await register(app, SHOP_URL, chaos={"duplicateRate": 1.0, "reorderWindowMs": 1000})
    processor = processor_of(app)
    sent = [await pay(app, processor, clock, f"CHAOS-{i}") for i in range(6)]
    assert endpoints.at(SHOP_URL) == []  # every first attempt waits up to the window
    for _ in range(4):
        clock.advance(seconds=1)
        await retry_everything_due(app, processor)

    arrived = endpoints.at(SHOP_URL)
    firsts = [a.event_id for a in arrived if a.attempt == 1]
    assert sorted(firsts) == sorted(sent)
    assert firsts != sent  # delayed by random amounts: not in the order of the events
    assert len(arrived) == 2 * len(sent)  # each one twice
    for sent_id in sent:
        copies = [a for a in arrived if a.event_id == sent_id]
        assert [c.attempt for c in copies] == [1, 2]  # the duplicate is a counted attempt
        assert copies[0].body == copies[1].body  # the very same bytes


async def test_built_in_receiver_applies_each_payment_once_under_chaos(
    mock_db: Any, clock: FakeClock
) -> None:
    """A chaos endpoint aimed at payflow's own receiver: every event twice, late."""
    settings = make_settings(webhooks__chaos_seed=3)
    async with app_client(mock_db, clock=clock, settings=settings) as app:
        receiver_url = settings.webhook_target_url
        created = await register(
            app, receiver_url, chaos={"duplicateRate": 1.0, "reorderWindowMs": 500}
        )
        settings.webhooks.previous_secrets.append(created["secret"])  # the receiver trusts it
        processor = processor_of(app)
        numbers = [f"ONCE-{i}" for i in range(4)]
        for number in numbers:
            await pay(app, processor, clock, number)
        for _ in range(3):
            clock.advance(seconds=1)
            await retry_everything_due(app, processor)

        for number in numbers:
            order = (await app.get(f"/api/orders/{number}")).json()
            assert order["status"] == "Paid"
            outcomes = [
                e["outcome"] for e in (await app.get(f"/api/orders/{number}/events")).json()
            ]
            assert outcomes.count("applied") == 1
            assert outcomes.count("duplicate") == 2  # the chaos copy and its duplicate


def test_cool_down_doubles_after_each_failed_probe_up_to_ten_minutes(clock: FakeClock) -> None:
    policy = BreakerPolicy(failures=2)
    health = Health()
    for _ in range(2):
        health = after_failure(health, clock(), policy)
    seen = [health.cooldown_seconds]
    for _ in range(6):  # probe, refused
        health = after_failure(
            take_recovery(health, "w", clock(), timedelta(seconds=30)), clock(), policy
        )
        seen.append(health.cooldown_seconds)
    assert seen == [30, 60, 120, 240, 480, 600, 600]
    assert health.circuit is CircuitState.OPEN
    assert health.lease_owner is None  # a failed probe gives the lease back


def test_a_success_forgets_failures_but_never_moves_an_open_circuit(clock: FakeClock) -> None:
    policy = BreakerPolicy(failures=3)
    once = after_failure(Health(), clock(), policy)
    assert after_success(once) == replace(Health(), version=2)
    assert after_success(Health()) is None  # nothing to write on the hot path
    opened = after_failure(after_failure(once, clock(), policy), clock(), policy)
    assert opened.circuit is CircuitState.OPEN
    assert after_success(opened) is None  # only the recovery lease holder closes it


def test_the_built_in_endpoint_is_never_disabled(clock: FakeClock) -> None:
    policy = BreakerPolicy(failures=1)
    health = after_failure(Health(), clock(), policy, can_disable=False)
    clock.advance(hours=500)
    health = after_failure(health, clock(), policy, can_disable=False)
    assert health.status is EndpointStatus.ENABLED
    assert after_failure(health, clock(), policy).status is EndpointStatus.DISABLED


async def test_enable_on_the_built_in_endpoint_resets_its_breaker(app: Client) -> None:
    runtime = app.app_runtime  # type: ignore[attr-defined]
    policy = runtime.settings.webhooks.breaker_policy
    for _ in range(policy.failures):
        await runtime.store.endpoints.change_health(
            "we_default", lambda h: after_failure(h, runtime.clock(), policy)
        )
    await runtime.directory.refresh()
    assert (await endpoint(app, "we_default"))["circuit"] == "open"
    listed = (await app.get(ROUTE)).json()
    assert [e["id"] for e in listed] == ["we_default"]  # its health document is not listed
    enabled = await app.post(f"{ROUTE}/we_default/enable", headers={"Idempotency-Key": "e"})
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["circuit"], enabled.json()["failingSince"]) == ("closed", None)
