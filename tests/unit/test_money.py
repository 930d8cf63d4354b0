"""Money is exact: parse, minor units and formatting round-trip for every currency."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow.codec import encode
from payflow.domain.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    MoneyError,
    from_minor,
    parse_amount,
    quantize,
    to_minor,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@st.composite
def amounts(draw: st.DrawFn) -> tuple[str, int]:
    currency = draw(currencies)
    digits = CURRENCY_EXPONENTS[currency]
    max_minor = int(MAX_AMOUNT.scaleb(digits)) if digits <= 2 else int(MAX_AMOUNT.scaleb(2)) * 10
    return currency, draw(st.integers(min_value=1, max_value=max_minor))


@given(amounts())
def test_minor_units_round_trip(case: tuple[str, int]) -> None:
    currency, minor = case
    amount = from_minor(minor, currency)
    assert to_minor(amount, currency) == minor
    assert parse_amount(amount, currency) == amount


@given(amounts())
def test_amount_written_as_json_has_exactly_the_minor_digits(case: tuple[str, int]) -> None:
    currency, minor = case
    amount = from_minor(minor, currency)
    text = encode(amount).decode()
    digits = CURRENCY_EXPONENTS[currency]
    if digits:
        assert len(text.split(".")[1]) == digits
    else:
        assert "." not in text
    decoded = msgspec.json.Decoder(float_hook=Decimal).decode(text.encode())
    assert Decimal(decoded) == amount


@given(amounts(), st.integers(min_value=1, max_value=5))
def test_trailing_zeros_do_not_change_the_amount(case: tuple[str, int], zeros: int) -> None:
    currency, minor = case
    amount = from_minor(minor, currency)
    padded = Decimal(f"{amount:f}" + ("0" * zeros if "." in f"{amount:f}" else "." + "0" * zeros))
    assert parse_amount(padded, currency) == amount


@given(currencies, st.integers(min_value=1, max_value=10**6))
def test_one_digit_too_many_is_refused(currency: str, minor: int) -> None:
    digits = CURRENCY_EXPONENTS[currency]
    too_fine = Decimal(minor * 10 + 1).scaleb(-(digits + 1))
    with pytest.raises(MoneyError):
        parse_amount(too_fine, currency)


@pytest.mark.parametrize(
    "value", ["149.99", 149.99, True, None, [1], Decimal("NaN"), Decimal("Inf")]
)
def test_non_numbers_and_non_finite_values_are_refused(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(value, "USD")


def test_limits() -> None:
    assert parse_amount(MAX_AMOUNT, "USD") == MAX_AMOUNT
    with pytest.raises(MoneyError):
        parse_amount(MAX_AMOUNT + Decimal("0.01"), "USD")
    with pytest.raises(MoneyError):
        parse_amount(0, "USD")
    assert quantize(Decimal(75), "USD") == Decimal("75.00")
    assert str(quantize(Decimal(75), "JPY")) == "75"
    assert str(quantize(Decimal("0.5"), "KWD")) == "0.500"
