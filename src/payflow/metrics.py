"""Prometheus metrics, one registry per application (tests build many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.orders_created = Counter(
            "payflow_orders_created", "Orders accepted (201).", registry=r
        )
        self.idempotent_replays = Counter(
            "payflow_idempotent_replays", "Responses replayed for a repeated key.", registry=r
        )
        self.idempotency_conflicts = Counter(
            "payflow_idempotency_conflicts",
            "Keys refused: reused with another body (422) or still in flight (409).",
            ["reason"],
            registry=r,
        )
        self.payments = Counter(
            "payflow_payments", "Webhook receipts by outcome.", ["outcome"], registry=r
        )
        self.orders_processed = Counter(
            "payflow_orders_processed", "Payment outcomes simulated.", ["result"], registry=r
        )
        self.deliveries = Counter(
            "payflow_webhook_deliveries",
            "Webhook delivery attempts by result.",
            ["result"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "payflow_webhook_delivery_seconds", "Time from send to response.", registry=r
        )
        self.dead_letters = Counter(
            "payflow_webhook_dead_letters", "Deliveries that ran out of attempts.", registry=r
        )
        self.queue_depth = Gauge(
            "payflow_queue_depth", "Order ids waiting in this process.", registry=r
        )
        self.lease_takeovers = Counter(
            "payflow_lease_takeovers",
            "Work taken over from a holder whose lease expired.",
            ["kind"],
            registry=r,
        )
        self.deliveries_deferred = Counter(
            "payflow_deliveries_deferred",
            "Deliveries held back, no attempt spent, while their endpoint's circuit was not "
            "closed or it was disabled.",
            ["endpoint"],
            registry=r,
        )
        self.circuit_transitions = Counter(
            "payflow_endpoint_circuit_transitions",
            "Circuit breaker changes of webhook endpoints, by the state entered.",
            ["endpoint", "circuit"],
            registry=r,
        )
        self.chaos = Counter(
            "payflow_webhook_chaos",
            "Deliveries an endpoint's chaos settings sent twice (duplicate) or late (delayed).",
            ["endpoint", "kind"],
            registry=r,
        )

        self.faults_injected = Counter(
            "payflow_faults_injected",
            "Faults injected on purpose (Payflow-Fault header or a fault rule).",
            ["fault"],
            registry=r,
        )

    def webhook_received(self, outcome: str) -> None:
        self.payments.labels(outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
