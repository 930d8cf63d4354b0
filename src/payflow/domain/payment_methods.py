"""Test payment methods: Stripe's names, so users' muscle memory works (DESIGN §1.5)."""

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

OUTCOMES: dict[str, Outcome] = {
    "pm_card_visa": _SUCCESS,
    "pm_card_mastercard": _SUCCESS,
    "pm_card_chargeDeclined": Outcome(False, "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": Outcome(
        False, "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": Outcome(False, "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedProcessingError": Outcome(
        False, "processing_error", "An error occurred while processing your card."
    ),
}


def is_known(payment_method: str) -> bool:
    return payment_method in OUTCOMES


def outcome_for(payment_method: str) -> Outcome:
    """The simulated outcome; unknown methods never reach here (validated at the edge)."""
    return OUTCOMES[payment_method]
