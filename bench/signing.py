"""Signature verification cost, in-process: payflow's `signing.verify` for each scheme next to
the reference libraries on the same body, so the report can hold each scheme to the fastest
library that verifies it (`REFERENCES`).

- stripe scheme: the `stripe` library's `WebhookSignature.verify_header`.
- standard scheme: the `standardwebhooks` reference library. svix's Python library is not
  measured: its `Webhook.verify` copies the headers and calls `standardwebhooks`', so it
  cannot be the faster of the two, and it would bring pydantic, attrs and httpx models
  with it.
- payflow's own `X-Signature` scheme: no third-party library verifies it. It differs from
  Stripe's only in the signed text (`t=<ts>.` instead of `<ts>.`), so its reference is the
  `stripe` library's verify on a Stripe header for the same body: the same parse and one
  HMAC-SHA256 over a text two bytes shorter.

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
# For each payflow scheme, the libraries whose verify it is held to (the fastest of them).
REFERENCES: dict[str, tuple[str, ...]] = {
    signing.Scheme.PAYFLOW.value: ("stripe",),
    signing.Scheme.STRIPE.value: ("stripe",),
    signing.Scheme.STANDARD.value: ("standardwebhooks",),
}
REFERENCE_NOTE = (
    "References: the stripe scheme is held to the `stripe` library's "
    "`WebhookSignature.verify_header`, the standard scheme to `standardwebhooks` (svix's "
    "`Webhook.verify` calls it, so it cannot be faster, and is not measured). No library "
    "verifies payflow's own `X-Signature`: it is held to `stripe`'s verify, the same work "
    "(signed text `t=<ts>.` instead of `<ts>.`)."
)


def _best_us(calls: dict[str, Callable[[], object]], number: int, rounds: int) -> dict[str, float]:
    """Best round of each call, in µs per call. The rounds take turns (A B C, A B C, …), so a
    burst of load elsewhere on the machine falls on every implementation alike."""
    for call in calls.values():
        call()  # a failure shows here, before any timing
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], timeit.timeit(call, number=number))
    return {name: round(seconds / number * 1e6, 2) for name, seconds in best.items()}


def measure(number: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Microseconds per verify, keyed `payflow:<scheme>`, `standardwebhooks`, `stripe`."""
    from standardwebhooks.webhooks import Webhook
    from stripe import WebhookSignature

    now = int(time.time())
    calls: dict[str, Callable[[], object]] = {}
    whsec = signing.generate_secret(signing.Scheme.STANDARD)
    for scheme in signing.Scheme:
        secret = whsec if scheme is signing.Scheme.STANDARD else SECRET
        headers = signing.sign(scheme, BODY, [secret], now, EVENT_ID)

        def verify(
            scheme: signing.Scheme = scheme, headers: dict[str, str] = headers, secret: str = secret
        ) -> object:
            return signing.verify(scheme, BODY, headers, [secret], int(time.time()))

        calls[f"payflow:{scheme.value}"] = verify
    standard_headers = signing.sign(signing.Scheme.STANDARD, BODY, [whsec], now, EVENT_ID)
    webhook = Webhook(whsec)
    calls["standardwebhooks"] = lambda: webhook.verify(BODY, standard_headers, json_parse=False)
    stripe_header = signing.sign(signing.Scheme.STRIPE, BODY, [SECRET], now)["Stripe-Signature"]
    calls["stripe"] = lambda: WebhookSignature.verify_header(
        BODY, stripe_header, SECRET, tolerance=300
    )
    return _best_us(calls, number, rounds)
