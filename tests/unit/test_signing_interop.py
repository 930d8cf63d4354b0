"""payflow's signatures and the official libraries agree, in both directions.

A merchant verifying payflow's webhooks with `stripe` or `standardwebhooks` must
succeed, and payflow's receiver must accept what those libraries sign. Both
libraries read the real clock, so these tests sign at the real current time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from payflow import signing
from payflow.signing import Scheme

EVENT = (
    b'{"id":"evt_0f3a5c7e9b1d2f4a6c8e0b2d","type":"payment.succeeded",'
    b'"createdAt":"2026-11-22T20:47:03.123Z","data":{"orderId":"ord_1","orderNumber":"ORD-67890",'
    b'"amount":149.99,"currency":"USD","paymentMethod":"pm_card_visa","status":"Paid"}}'
)
MESSAGE_ID = "evt_0f3a5c7e9b1d2f4a6c8e0b2d"
bodies = st.text(max_size=2000).map(str.encode)
message_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


def now() -> int:
    return int(time.time())


# payflow signs, the official libraries verify


def test_stripe_construct_event_accepts_a_payflow_signed_event() -> None:
    secret = signing.generate_secret(Scheme.STRIPE)
    headers = signing.sign(Scheme.STRIPE, EVENT, [secret], now())
    event = stripe.Webhook.construct_event(EVENT, headers["Stripe-Signature"], secret)
    assert event.id == MESSAGE_ID
    assert event.type == "payment.succeeded"
    assert event["data"]["orderNumber"] == "ORD-67890"


def test_stripe_rejects_a_payflow_signature_under_another_secret() -> None:
    headers = signing.sign(Scheme.STRIPE, EVENT, [signing.generate_secret(Scheme.STRIPE)], now())
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            EVENT, headers["Stripe-Signature"], signing.generate_secret(Scheme.STRIPE)
        )


def test_stripe_accepts_either_secret_during_a_rotation() -> None:
    old, new = signing.generate_secret(Scheme.STRIPE), signing.generate_secret(Scheme.STRIPE)
    header = signing.sign(Scheme.STRIPE, EVENT, [new, old], now())["Stripe-Signature"]
    for secret in (old, new):
        assert stripe.Webhook.construct_event(EVENT, header, secret).id == MESSAGE_ID


@settings(max_examples=50, deadline=None)
@given(body=bodies)
def test_stripe_verifies_any_payflow_signed_body(body: bytes) -> None:
    secret = signing.generate_secret(Scheme.STRIPE)
    header = signing.sign(Scheme.STRIPE, body, [secret], now())["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(body, header, secret, 300)


def test_standardwebhooks_verifies_a_payflow_signed_event() -> None:
    secret = signing.generate_secret(Scheme.STANDARD)
    headers = signing.sign(Scheme.STANDARD, EVENT, [secret], now(), MESSAGE_ID)
    payload = standardwebhooks.Webhook(secret).verify(EVENT, headers)
    assert payload["data"]["orderNumber"] == "ORD-67890"


def test_standardwebhooks_rejects_a_payflow_signature_under_another_secret() -> None:
    secret = signing.generate_secret(Scheme.STANDARD)
    headers = signing.sign(Scheme.STANDARD, EVENT, [secret], now(), MESSAGE_ID)
    other = standardwebhooks.Webhook(signing.generate_secret(Scheme.STANDARD))
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        other.verify(EVENT, headers)


def test_standardwebhooks_accepts_either_secret_during_a_rotation() -> None:
    old, new = signing.generate_secret(Scheme.STANDARD), signing.generate_secret(Scheme.STANDARD)
    headers = signing.sign(Scheme.STANDARD, EVENT, [new, old], now(), MESSAGE_ID)
    for secret in (old, new):
        assert (
            standardwebhooks.Webhook(secret).verify(EVENT, headers)["type"] == "payment.succeeded"
        )


@settings(max_examples=50, deadline=None)
@given(body=bodies, message_id=message_ids)
def test_standardwebhooks_verifies_any_payflow_signed_body(body: bytes, message_id: str) -> None:
    secret = signing.generate_secret(Scheme.STANDARD)
    headers = signing.sign(Scheme.STANDARD, body, [secret], now(), message_id)
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)


# The official libraries sign, payflow verifies


def test_payflow_verifies_a_stripe_library_signature() -> None:
    secret = signing.generate_secret(Scheme.STRIPE)
    at = now()
    header = stripe.WebhookSignature.generate_signature_header(EVENT.decode(), secret, at)
    assert signing.verify(Scheme.STRIPE, EVENT, {"Stripe-Signature": header}, [secret], at) == at


def test_payflow_verifies_a_header_built_the_way_stripe_documents_it() -> None:
    # https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "<t>.<payload>".
    secret = "whsec_test_documented"
    at = now()
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{EVENT.decode()}", secret)
    headers = {"Stripe-Signature": f"t={at},v1={signature},v0=ignored"}
    assert signing.verify(Scheme.STRIPE, EVENT, headers, [secret], at) == at


@settings(max_examples=50, deadline=None)
@given(body=bodies)
def test_payflow_verifies_any_stripe_library_signature(body: bytes) -> None:
    secret = signing.generate_secret(Scheme.STRIPE)
    at = now()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, at)
    assert signing.verify(Scheme.STRIPE, body, {"Stripe-Signature": header}, [secret], at) == at


def standard_headers(secret: str, message_id: str, at: int, body: bytes) -> dict[str, str]:
    moment = datetime.fromtimestamp(at, UTC)
    signature = standardwebhooks.Webhook(secret).sign(message_id, moment, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(at), "webhook-signature": signature}


def test_payflow_verifies_a_standardwebhooks_library_signature() -> None:
    secret = signing.generate_secret(Scheme.STANDARD)
    at = now()
    headers = standard_headers(secret, MESSAGE_ID, at, EVENT)
    assert signing.verify(Scheme.STANDARD, EVENT, headers, [secret], at) == at


def test_payflow_verifies_the_standard_webhooks_reference_vector() -> None:
    # The specification's published example: secret, id, timestamp, body and signature.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert signing.verify(Scheme.STANDARD, body, headers, [secret], 1614265330) == 1614265330
    library = standardwebhooks.Webhook(secret).sign(
        headers["webhook-id"], datetime.fromtimestamp(1614265330, UTC), body.decode()
    )
    assert library == headers["webhook-signature"]


@settings(max_examples=50, deadline=None)
@given(body=bodies, message_id=message_ids)
def test_payflow_verifies_any_standardwebhooks_library_signature(
    body: bytes, message_id: str
) -> None:
    secret = signing.generate_secret(Scheme.STANDARD)
    at = now()
    headers = standard_headers(secret, message_id, at, body)
    assert signing.verify(Scheme.STANDARD, body, headers, [secret], at) == at
