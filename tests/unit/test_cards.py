"""Saved cards: what a number must be, what payflow keeps of it, and its fingerprint."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow.domain.cards import (
    FINGERPRINT_LENGTH,
    CardError,
    brand_of,
    fingerprint,
    luhn_valid,
    normalize_number,
    outcome_of,
    read_card,
)
from payflow.domain.payment_methods import OUTCOMES

NOW = datetime(2036, 11, 22, 20, 47, tzinfo=UTC)
KEY = b"installation-key-of-32-bytes...."


def with_check_digit(body: str) -> str:
    """`body` plus the digit that makes it Luhn-valid."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


bodies = st.text(alphabet="0123456789", min_size=11, max_size=18)
numbers = bodies.map(with_check_digit)


@st.composite
def formatted(draw: st.DrawFn, digits: str) -> str:
    """`digits` with spaces or dashes between some of them, as a checkout form sends."""
    out = []
    for digit in digits:
        out.append(digit)
        out.append(draw(st.sampled_from(["", "", " ", "-"])))
    return "".join(out).rstrip(" -")


@given(numbers)
def test_a_number_with_its_check_digit_passes_luhn_and_one_changed_digit_fails(
    number: str,
) -> None:
    assert luhn_valid(number)
    changed = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not luhn_valid(changed)


@given(numbers.flatmap(lambda n: st.tuples(st.just(n), formatted(n))))
def test_spaces_and_dashes_do_not_change_the_number_or_its_fingerprint(
    pair: tuple[str, str],
) -> None:
    number, typed = pair
    assert normalize_number(typed) == number
    assert read_card(typed, 1, 2040, NOW, KEY).fingerprint == fingerprint(number, KEY)


@given(numbers, st.integers(1, 12), st.integers(2037, 2060))
def test_the_fingerprint_is_the_same_whatever_the_expiry_and_never_shows_the_number(
    number: str, month: int, year: int
) -> None:
    card = read_card(number, month, year, NOW, KEY)
    other_expiry = read_card(number, 12, 2036, NOW, KEY)
    assert replace(other_expiry, exp_month=month, exp_year=year) == card
    assert card.fingerprint == other_expiry.fingerprint
    assert len(card.fingerprint) == FINGERPRINT_LENGTH
    assert number not in repr(card)
    assert card.last4 == number[-4:]


@given(numbers, numbers)
def test_different_numbers_have_different_fingerprints(first: str, second: str) -> None:
    assert (fingerprint(first, KEY) == fingerprint(second, KEY)) == (first == second)


def test_the_fingerprint_depends_on_the_installation_key() -> None:
    assert fingerprint("4242424242424242", KEY) != fingerprint("4242424242424242", b"other")


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("3056930009020004", "diners"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("9999999999999995", "unknown"),
    ],
)
def test_the_brand_comes_from_the_issuer_prefix(number: str, brand: str) -> None:
    assert brand_of(number) == brand


@pytest.mark.parametrize(
    ("number", "failure_code"),
    [
        ("4242424242424242", None),
        ("5555555555554444", None),
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4000000000000119", "processing_error"),
        ("4111111111111111", None),
    ],
)
def test_a_saved_test_card_keeps_its_numbers_outcome(number: str, failure_code: str | None) -> None:
    card = read_card(number, 12, 2040, NOW, KEY)

    assert card.failure_code == failure_code
    assert outcome_of(card) == OUTCOMES.get(number, OUTCOMES["pm_card_visa"])


@pytest.mark.parametrize(
    ("number", "field"),
    [
        ("4242 4242 4242 4241", "card.number"),  # checksum
        ("42424242424", "card.number"),  # 11 digits
        ("42424242424242424242", "card.number"),  # 20 digits
        ("4242x4242424242424242", "card.number"),
        ("", "card.number"),
        ("\uff14\uff12" * 8, "card.number"),  # full-width digits
    ],
)
def test_a_number_that_is_not_a_card_is_refused_without_repeating_it(
    number: str, field: str
) -> None:
    with pytest.raises(CardError) as refused:
        read_card(number, 12, 2040, NOW, KEY)

    assert refused.value.field == field
    assert "4242" not in str(refused.value)


def test_a_card_is_good_through_its_expiry_month_and_refused_after_it() -> None:
    assert read_card("4242424242424242", NOW.month, NOW.year, NOW, KEY).exp_year == NOW.year
    with pytest.raises(CardError, match="expired"):
        read_card("4242424242424242", NOW.month - 1, NOW.year, NOW, KEY)
    with pytest.raises(CardError, match="expired"):
        read_card("4242424242424242", 12, NOW.year - 1, NOW, KEY)


@pytest.mark.parametrize(("month", "year"), [(0, 2040), (13, 2040), (12, 40), (12, 99999)])
def test_an_impossible_expiry_is_refused(month: int, year: int) -> None:
    with pytest.raises(CardError):
        read_card("4242424242424242", month, year, NOW, KEY)
