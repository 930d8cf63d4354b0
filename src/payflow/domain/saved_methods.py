"""Saved payment methods (`pm_…`): a card kept for a customer (DESIGN §7).

A method is created detached or for a customer, attached to one customer at most,
and detached for good: a detached method is never used or attached again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from payflow.domain.cards import CardDetails
from payflow.ids import token

CARD = "card"


def new_payment_method_id() -> str:
    """`pm_` + 24 hex digits; never one of the test names (`pm_card_…`), which have letters."""
    return f"pm_{token(96)}"


def derive_payment_method_id(seed: str) -> str:
    """`pm_` + 24 hex digits derived from `seed` (the create's idempotency claim), so a
    retry that takes over a create which died half-way finds that method."""
    return f"pm_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


SAVED_METHOD_ID_RE = re.compile(r"pm_[0-9a-f]{24}")


def is_saved_method_id(value: str) -> bool:
    """Whether `value` has the shape of a saved method's id (test names have letters)."""
    return SAVED_METHOD_ID_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class SavedPaymentMethod:
    id: str
    card: CardDetails
    created_at: datetime
    customer: str | None = None
    billing_details: Mapping[str, object] = field(default_factory=dict)
    detached_at: datetime | None = None
    scope: str | None = None
    type: str = CARD

    @property
    def usable(self) -> bool:
        """Whether an order may be paid with it: not detached."""
        return self.detached_at is None

    def usable_by(self, customer: str | None) -> bool:
        """Whether an order of `customer` (None: no customer) may be paid with it."""
        return self.usable and (customer is None or self.customer == customer)
