"""Saved cards: checking a card number, and what payflow keeps of it (DESIGN §7).

The full number and the CVC live only in the request being handled: `read_card`
turns them into a `CardDetails` — brand, funding, last four digits, expiry, a
fingerprint, and the simulated outcome of the number — and nothing else is kept.
The fingerprint is a keyed hash (HMAC-SHA256 with one key per installation), so it is
equal for equal numbers whatever the expiry, and cannot be reversed by hashing every
possible number without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from payflow.domain.payment_methods import OUTCOMES, Outcome

MIN_DIGITS, MAX_DIGITS = 12, 19
FINGERPRINT_LENGTH = 16
_NUMBER_RE = re.compile(r"[0-9][0-9 -]*")


class CardError(ValueError):
    """A card the API refuses with 400; `field` names the offending request field.

    The message never contains the number."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def normalize_number(raw: str) -> str:
    """The digits of `raw`: digits with optional spaces or dashes, 12 to 19 digits."""
    if not _NUMBER_RE.fullmatch(raw.strip()):
        raise CardError("card.number", "must be digits, optionally grouped by spaces or dashes")
    digits = re.sub(r"[ -]", "", raw)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise CardError("card.number", f"must have {MIN_DIGITS} to {MAX_DIGITS} digits")
    if not luhn_valid(digits):
        raise CardError("card.number", "is not a valid card number (checksum)")
    return digits


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return bool(digits) and total % 10 == 0


# Issuer prefixes (IIN ranges), longest match wins; Stripe's brand names.
_BRAND_RANGES: tuple[tuple[str, int, int], ...] = (
    ("visa", 4, 4),
    ("amex", 34, 34), ("amex", 37, 37),
    ("mastercard", 51, 55), ("mastercard", 2221, 2720),
    ("discover", 6011, 6011), ("discover", 644, 649), ("discover", 65, 65),
    ("discover", 622126, 622925),
    ("diners", 36, 36), ("diners", 300, 305), ("diners", 38, 39),
    ("jcb", 3528, 3589),
    ("unionpay", 62, 62), ("unionpay", 81, 81),
)  # fmt: skip


def brand_of(digits: str) -> str:
    """The card network by issuer prefix; `unknown` when none matches (as Stripe says)."""
    best, best_length = "unknown", 0
    for brand, low, high in _BRAND_RANGES:
        length = len(str(low))
        if length > best_length and low <= int(digits[:length]) <= high:
            best, best_length = brand, length
    return best


# Stripe's test numbers of debit and prepaid cards; every other number reads as credit.
_FUNDING: dict[str, str] = {
    "4000056655665556": "debit",
    "5200828282828210": "debit",
    "5105105105105100": "prepaid",
    "6200000000000005": "debit",
}


def funding_of(digits: str) -> str:
    return _FUNDING.get(digits, "credit")


def fingerprint(digits: str, key: bytes) -> str:
    """A short token, equal for equal numbers under one installation's `key`.

    HMAC-SHA256 of the digits, the first 96 bits in URL-safe base64: 16 characters,
    as long as Stripe's fingerprints."""
    mac = hmac.new(key, digits.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:12]).decode()


def check_expiry(month: int, year: int, now: datetime) -> None:
    """A card is good through the last day of its expiry month (UTC)."""
    if not 1 <= month <= 12:
        raise CardError("card.expMonth", "must be 1 to 12")
    if not now.year - 100 < year < now.year + 100:
        raise CardError("card.expYear", "must be a four-digit year")
    if (year, month) < (now.year, now.month):
        raise CardError("card.expYear", "the card has expired")


# The outcomes of Stripe's test numbers by failure code, so a saved card keeps its number's
# outcome without keeping the number: the card stores the code, `outcome_of` reads it back.
_BY_FAILURE_CODE: dict[str, Outcome] = {
    outcome.failure_code: outcome
    for outcome in OUTCOMES.values()
    if outcome.failure_code is not None
}
_SUCCEEDS = Outcome(succeeded=True)


def failure_code_for(digits: str) -> str | None:
    """What paying with this number does: a test number's decline code, else success."""
    outcome = OUTCOMES.get(digits)
    return None if outcome is None else outcome.failure_code


def outcome_of(card: CardDetails) -> Outcome:
    """The simulated outcome of paying with a saved card."""
    if card.failure_code is None:
        return _SUCCEEDS
    return _BY_FAILURE_CODE[card.failure_code]


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What payflow keeps of a card: never the number, never the CVC."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    fingerprint: str
    failure_code: str | None = None  # the outcome its number had when saved (test numbers)


def read_card(number: str, exp_month: int, exp_year: int, now: datetime, key: bytes) -> CardDetails:
    """Check a card as submitted and keep only what may be kept.

    Raises `CardError` (field and reason, never the number). The CVC is not an argument:
    payflow checks nothing about it and so never needs to hold it past the request."""
    digits = normalize_number(number)
    check_expiry(exp_month, exp_year, now)
    return CardDetails(
        brand=brand_of(digits),
        last4=digits[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        funding=funding_of(digits),
        fingerprint=fingerprint(digits, key),
        failure_code=failure_code_for(digits),
    )
