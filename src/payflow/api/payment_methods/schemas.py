"""Wire shapes of saved payment methods, and what of a card request may be kept.

The card number and the CVC are secret: they are read into `CardIn`, checked by
`domain.cards.read_card`, and dropped with the request. Every error about them names
the field, never the value (`CardError`, and msgspec's messages, which name types and
paths). The idempotency record fingerprints the body; `fingerprint_body` replaces the
number and CVC there by keyed hashes first, so not even a plain hash of them is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from payflow.api.body import convert_body
from payflow.domain.cards import CardDetails, CardError, fingerprint, read_card
from payflow.domain.saved_methods import SavedPaymentMethod
from payflow.errors import ValidationFailed
from payflow.timefmt import isoformat

Text = Annotated[str, Meta(max_length=200)]
CustomerId = Annotated[
    str, Meta(min_length=1, max_length=64, examples=["cus_4f2a9c1e7b3d5a8f6e0c2b1d"])
]


class CardIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A card as submitted; the number and CVC never leave the request."""

    number: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=64,
            description="12-19 digits, optionally grouped by spaces or dashes; Luhn-valid",
            examples=["4242 4242 4242 4242"],
        ),
    ]
    exp_month: Annotated[int, Meta(description="1-12", examples=[12])]
    exp_year: Annotated[int, Meta(description="four digits; not in the past", examples=[2030])]
    cvc: Annotated[str, Meta(pattern=r"^[0-9]{3,4}$", description="never stored")] | UnsetType = (
        UNSET
    )


class Address(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    city: Text | None = None
    country: Text | None = None
    line1: Text | None = None
    line2: Text | None = None
    postal_code: Text | None = None
    state: Text | None = None


class BillingDetails(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Stripe's billing details; every field optional, answered with nulls for the unset."""

    address: Address | None = None
    email: Text | None = None
    name: Text | None = None
    phone: Text | None = None


class CreatePaymentMethodRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/payment-methods`."""

    type: Literal["card"]
    card: CardIn
    customer: CustomerId | None = None
    billing_details: BillingDetails | None = None


class AttachRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/payment-methods/{id}/attach`."""

    customer: CustomerId


class DetachRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/payment-methods/{id}/detach`: nothing, or an empty object."""


class CardOut(msgspec.Struct, rename="camel"):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    fingerprint: str


class PaymentMethodOut(msgspec.Struct, rename="camel"):
    """A saved payment method as every endpoint returns it: never the number or CVC."""

    id: str
    type: str
    card: CardOut
    customer: str | None
    billing_details: BillingDetails
    created_at: str


def payment_method_out(method: SavedPaymentMethod) -> PaymentMethodOut:
    card = method.card
    return PaymentMethodOut(
        id=method.id,
        type=method.type,
        card=CardOut(
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            funding=card.funding,
            fingerprint=card.fingerprint,
        ),
        customer=method.customer,
        billing_details=msgspec.convert(dict(method.billing_details), BillingDetails),
        created_at=isoformat(method.created_at),
    )


def billing_details_doc(details: BillingDetails | None) -> dict[str, Any]:
    """What is kept of the billing details: every field, null where not given."""
    doc: dict[str, Any] = msgspec.to_builtins(details or BillingDetails())
    return doc


def parse_create_payment_method(payload: dict[str, Any]) -> CreatePaymentMethodRequest:
    return convert_body(payload, CreatePaymentMethodRequest)


def checked_card(card: CardIn, now: datetime, key: bytes) -> CardDetails:
    """What may be kept of the card, or a 400 naming the field (never the value)."""
    try:
        return read_card(card.number, card.exp_month, card.exp_year, now, key)
    except CardError as exc:
        raise ValidationFailed([{"field": exc.field, "message": str(exc)}]) from None


def fingerprint_body(payload: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The body as the idempotency fingerprint sees it: the number and CVC as keyed
    hashes of the strings sent (so the same request still matches, byte for byte)."""
    card = payload.get("card")
    if not isinstance(card, dict):
        return payload
    hidden = dict(card)
    for name in ("number", "cvc"):
        if isinstance(hidden.get(name), str):
            hidden[name] = fingerprint(f"{name}:{hidden[name]}", key)
    return {**payload, "card": hidden}
