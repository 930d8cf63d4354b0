"""Test payment methods: Stripe's names, so users' muscle memory works (DESIGN §1.5).

Stripe's test card numbers for the same outcomes are accepted as well, since that is
what a checkout form under test types in; either way the order keeps what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PAYMENT_METHOD = "pm_card_visa"


@dataclass(frozen=True)
class Outcome:
    """What the simulated gateway decides for a payment method."""

    succeeded: bool
    failure_code: str | None = None
    failure_message: str | None = None


_SUCCESS = Outcome(succeeded=True)
_DECLINED = Outcome(False, "generic_decline", "Your card was declined.")
_INSUFFICIENT_FUNDS = Outcome(False, "insufficient_funds", "Your card has insufficient funds.")
_EXPIRED_CARD = Outcome(False, "expired_card", "Your card has expired.")
_PROCESSING_ERROR = Outcome(
    False, "processing_error", "An error occurred while processing your card."
)

OUTCOMES: dict[str, Outcome] = {
    "pm_card_visa": _SUCCESS,
    "pm_card_mastercard": _SUCCESS,
    "pm_card_chargeDeclined": _DECLINED,
    "pm_card_chargeDeclinedInsufficientFunds": _INSUFFICIENT_FUNDS,
    "pm_card_chargeDeclinedExpiredCard": _EXPIRED_CARD,
    "pm_card_chargeDeclinedProcessingError": _PROCESSING_ERROR,
    # Stripe's test card numbers (https://docs.stripe.com/testing#declined-payments).
    "4242424242424242": _SUCCESS,
    "5555555555554444": _SUCCESS,
    "4000000000000002": _DECLINED,
    "4000000000009995": _INSUFFICIENT_FUNDS,
    "4000000000000069": _EXPIRED_CARD,
    "4000000000000119": _PROCESSING_ERROR,
}


def is_known(payment_method: str) -> bool:
    return payment_method in OUTCOMES


def outcome_for(payment_method: str) -> Outcome:
    """The simulated outcome; unknown methods never reach here (validated at the edge)."""
    return OUTCOMES[payment_method]
