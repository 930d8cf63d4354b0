"""Refunds: money given back on a Paid order, whole or in parts, never more than was paid."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Stripe's refund reasons, so the values a client sends there work here too.
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
SUCCEEDED = "succeeded"


def derive_refund_id(seed: str) -> str:
    """`re_` + 24 hex digits derived from `seed`: a re-run after a crash finds its own refund."""
    return f"re_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund as the API shows it; `amount` has the currency's minor digits."""

    id: str
    order_id: str
    order_number: str
    amount: Decimal
    currency: str
    created_at: datetime
    reason: str | None = None
    status: str = SUCCEEDED
    scope: str | None = None  # the client the order belongs to (see `Order.scope`)
