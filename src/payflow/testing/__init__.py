"""The `payflow` pytest fixture: a real payflow for a test suite, on a test clock.

Installed with the package (entry point `pytest11`), so a project that depends on
payflow writes::

    def test_checkout_pays(payflow):
        order = payflow.create_order(amount="149.99")
        payflow.wait_for(order["orderNumber"], "Paid")
        assert [w["type"] for w in payflow.received] == ["payment.succeeded"]

The fixture starts `payflow serve` once per test session as a child process — the
embedded database, data in a temporary directory, `[clock] mode = "test"`, no
processing delay, a failed delivery's first retry within a minute of the clock — and
talks to it over its HTTP API only, like any client. Every test gets a sink endpoint
of its own, registered for all events, whose deliveries (signature checked) are
`received`, in the order they arrived.
"""

from __future__ import annotations

from payflow.testing._fixture import Payflow, _payflow_sink, payflow, payflow_process
from payflow.testing._sink import ReceivedWebhook

__all__ = ["Payflow", "ReceivedWebhook", "payflow", "payflow_process"]
_fixtures = (_payflow_sink,)  # pytest finds a plugin's fixtures among its module's names
