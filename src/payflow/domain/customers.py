"""Customers: who a wallet and saved cards belong to (DESIGN §7)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from payflow.domain.wallets import Balance
from payflow.ids import token


def new_customer_id() -> str:
    """`cus_` + 24 hex digits, Stripe's prefix."""
    return f"cus_{token(96)}"


def derive_customer_id(seed: str) -> str:
    """`cus_` + 24 hex digits derived from `seed` (the create's idempotency claim): a
    retry that takes over a create which died half-way finds that customer."""
    return f"cus_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as the API shows it; `balances` is the wallet, one entry per currency."""

    id: str
    created_at: datetime
    name: str | None = None
    email: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    balances: tuple[Balance, ...] = ()
    # The client (API key) that created it, as for orders ("global" without keys). Its id
    # is payflow's own, so nothing is unique per scope; a lookup with no scope sees all.
    scope: str | None = None

    def balance(self, currency: str) -> Balance:
        """The wallet in `currency`; zero when the customer never held any."""
        for balance in self.balances:
            if balance.currency == currency:
                return balance
        return Balance(currency)
