"""Signature verification cost, in-process: payflow's `signing.verify` for each scheme next to
the `standardwebhooks` reference library and the `stripe` library on the same body.

Each figure is the best of several timed rounds (the least disturbed by other load), in
microseconds per successful verification of a typical event body with one secret.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

from payflow import signing

BODY = (
    b'{"id":"evt_3f1c8a0d2b4e6f8091a2b3c4","type":"payment.succeeded",'
    b'"createdAt":"2026-11-22T20:47:03.123Z","data":{"orderId":"ord_5e1f9c2a7b3d4e6f8a9b0c1d",'
    b'"orderNumber":"ORD-67890","amount":149.99,"currency":"USD",'
    b'"paymentMethod":"pm_card_visa","status":"Paid"}}'
)
SECRET = "super_secret_change_me"  # noqa: S105 - payflow's public default, signing a test body
EVENT_ID = "evt_3f1c8a0d2b4e6f8091a2b3c4"


def _best_us(call: Callable[[], object], number: int, rounds: int) -> float:
    call()  # a failure shows here, before any timing
    best = min(timeit.repeat(call, number=number, repeat=rounds))
    return round(best / number * 1e6, 2)


def measure(number: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Microseconds per verify, keyed `payflow:<scheme>`, `standardwebhooks`, `stripe`."""
    from standardwebhooks.webhooks import Webhook
    from stripe import WebhookSignature

    now = int(time.time())
    results: dict[str, float] = {}
    whsec = signing.generate_secret(signing.Scheme.STANDARD)
    for scheme in signing.Scheme:
        secret = whsec if scheme is signing.Scheme.STANDARD else SECRET
        headers = signing.sign(scheme, BODY, [secret], now, EVENT_ID)

        def verify(
            scheme: signing.Scheme = scheme, headers: dict[str, str] = headers, secret: str = secret
        ) -> object:
            return signing.verify(scheme, BODY, headers, [secret], int(time.time()))

        results[f"payflow:{scheme.value}"] = _best_us(verify, number, rounds)

    standard_headers = signing.sign(signing.Scheme.STANDARD, BODY, [whsec], now, EVENT_ID)
    webhook = Webhook(whsec)
    results["standardwebhooks"] = _best_us(
        lambda: webhook.verify(BODY, standard_headers, json_parse=False), number, rounds
    )
    stripe_header = signing.sign(signing.Scheme.STRIPE, BODY, [SECRET], now)["Stripe-Signature"]
    results["stripe"] = _best_us(
        lambda: WebhookSignature.verify_header(BODY, stripe_header, SECRET, tolerance=300),
        number,
        rounds,
    )
    return results
