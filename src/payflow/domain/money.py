"""Exact money: amounts are `Decimal` from the wire to the database and back.

A float never touches an amount. The request decoder hands JSON numbers over as
`int` or as `Decimal` built from the number's own text, so `149.99` stays 149.99;
this module checks them against the currency's minor digits and formats them back
with exactly that many digits (`75` and `75.0` both become `75.00` in USD).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies payflow accepts.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "MXN": 2, "BRL": 2, "INR": 2,
    "CNY": 2, "HKD": 2, "SGD": 2, "ZAR": 2, "ILS": 2, "TRY": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
DEFAULT_CURRENCY = "USD"
MAX_AMOUNT = Decimal("99999999.99")


class MoneyError(ValueError):
    """An amount or currency that payflow refuses; the message is shown to the client."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def parse_amount(value: object, currency: str) -> Decimal:
    """Validate a decoded JSON number as an amount in `currency`, exactly.

    Accepts `int` and finite `Decimal` (never `bool`, `str` or `float`): > 0, at most
    the currency's minor digits, at most `MAX_AMOUNT`.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise MoneyError("amount must be a JSON number")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):  # pragma: no cover - Decimal(int) cannot fail
        raise MoneyError("amount must be a JSON number") from None
    if not amount.is_finite():
        raise MoneyError("amount must be a finite number")
    if amount <= 0:
        raise MoneyError("amount must be greater than 0")
    if amount > MAX_AMOUNT:
        raise MoneyError(f"amount must be at most {MAX_AMOUNT}")
    exact = quantize(amount, currency)
    if exact != amount:
        raise MoneyError(f"{currency} amounts have at most {exponent(currency)} decimal places")
    return exact


def parse_currency(raw: str) -> str:
    """A supported ISO 4217 code in any letter case (`usd` is Stripe's), upper case."""
    code = raw.upper()
    exponent(code)
    return code


def parse_signed_amount(value: object, currency: str) -> Decimal:
    """A credit (> 0) or a debit (< 0) in `currency`: its size checked as `parse_amount`
    checks an amount, its sign kept; zero moves nothing and is refused."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        if value < 0:
            return -parse_amount(-value, currency)
        if value == 0:
            raise MoneyError("amount must not be 0 (positive credits, negative debits)")
    return parse_amount(value, currency)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` with exactly the currency's minor digits (75 → 75.00 in USD)."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)))


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units (149.99 USD → 14999): what the database compares and sums."""
    return int(amount.scaleb(exponent(currency)))


def from_minor(minor: int, currency: str) -> Decimal:
    return quantize(Decimal(minor).scaleb(-exponent(currency)), currency)
