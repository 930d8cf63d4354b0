"""Wire shapes of refunds (camelCase msgspec Structs) and the create body's parser.

A refund's `amount` is checked like an order's (a JSON number, exact, at most the
currency's minor digits), against the currency of the order it refunds — which is
why parsing it needs the order, and why the request Struct keeps it out of msgspec.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from payflow.api.body import convert_body
from payflow.domain.money import MoneyError, parse_amount
from payflow.domain.refunds import Refund
from payflow.errors import ValidationFailed
from payflow.timefmt import isoformat

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class CreateRefundRequest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Body of `POST /api/orders/{orderNumber}/refunds`; an empty body refunds the rest."""

    amount: (
        Annotated[
            Decimal,
            Meta(
                description=(
                    "JSON number, exact, at most the order currency's minor digits; "
                    "default: all that is left to refund"
                ),
                examples=[10.00],
            ),
        ]
        | UnsetType
    ) = UNSET
    reason: Annotated[RefundReason, Meta(description="Stripe's refund reasons")] | UnsetType = UNSET


class RefundOut(msgspec.Struct, rename="camel"):
    """A refund as every endpoint returns it."""

    id: str
    order_id: str
    order_number: str
    amount: Decimal
    currency: str
    status: str
    reason: str | None
    created_at: str


def refund_out(refund: Refund) -> RefundOut:
    return RefundOut(
        id=refund.id,
        order_id=refund.order_id,
        order_number=refund.order_number,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        created_at=isoformat(refund.created_at),
    )


def parse_refund_shape(payload: dict[str, Any]) -> CreateRefundRequest:
    """Everything but the amount's digits, which depend on the order's currency."""
    return convert_body(payload, CreateRefundRequest, exact=("amount",))


def refund_amount(payload: dict[str, Any], currency: str) -> Decimal | None:
    """The requested amount, exact in `currency`, or None for "the rest"."""
    if "amount" not in payload:
        return None
    try:
        return parse_amount(payload["amount"], currency)
    except MoneyError as exc:
        raise ValidationFailed([{"field": "amount", "message": str(exc)}]) from None
