"""Wallet arithmetic: each entry type's effect, entry ids, and the ledger invariants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow.domain.money import CURRENCY_EXPONENTS, from_minor, to_minor
from payflow.domain.wallets import (
    Balance,
    BalanceTransaction,
    EntryType,
    InsufficientBalance,
    Movement,
    WalletError,
    adjustment,
    capture,
    charge,
    entry_after,
    entry_id,
    ledger_totals,
    release,
    replay,
    reserve,
)

NOW = datetime(2036, 11, 22, 20, 47, tzinfo=UTC)


def test_an_entry_id_is_derived_from_its_subject_and_step() -> None:
    assert entry_id("ord_1", "reserve") == entry_id("ord_1", "reserve")
    assert entry_id("ord_1", "reserve") != entry_id("ord_1", "release")
    assert entry_id("ord_1", "reserve") != entry_id("ord_2", "reserve")
    assert entry_id("ord_1", "reserve").startswith("cbtx_")
    assert len(entry_id("ord_1", "reserve")) == len("cbtx_") + 24


@pytest.mark.parametrize(
    ("movement", "available", "reserved"),
    [
        (adjustment("k", "USD", 500), 1_500, 200),
        (adjustment("k", "USD", -500), 500, 200),
        (reserve("o", "N", "USD", 300), 700, 500),
        (release("o", "N", "USD", 200), 1_200, 0),
        (capture("o", "N", "USD", 200, 200)[0], 1_000, 0),
        (Movement(entry_id("o", "refund:re_1"), EntryType.REFUND, "USD", 50), 1_050, 200),
    ],
)
def test_each_entry_type_moves_available_and_reserved_its_own_way(
    movement: Movement, available: int, reserved: int
) -> None:
    after = Balance("USD", 1_000, 200).after(movement)

    assert after == Balance("USD", available, reserved)
    assert movement.amount_minor == (available + reserved) - 1_200


def test_a_movement_beyond_the_balance_raises_insufficient_balance() -> None:
    with pytest.raises(InsufficientBalance):
        Balance("USD", 100, 0).after(adjustment("k", "USD", -101))
    with pytest.raises(InsufficientBalance):
        Balance("USD", 100, 0).after(reserve("o", "N", "USD", 101))
    with pytest.raises(InsufficientBalance):
        Balance("USD", 100, 50).after(release("o", "N", "USD", 51))


def test_impossible_movements_are_programming_errors() -> None:
    with pytest.raises(WalletError):
        adjustment("k", "USD", 0)
    with pytest.raises(WalletError):
        reserve("o", "N", "USD", -1)
    with pytest.raises(WalletError):
        capture("o", "N", "USD", 11, 10)
    with pytest.raises(WalletError):
        Movement("ord_x", EntryType.REFUND, "USD", 1)
    with pytest.raises(WalletError):
        Balance("EUR").after(adjustment("k", "USD", 1))


def test_a_partial_capture_releases_the_rest_and_a_charge_is_a_hold_captured_at_once() -> None:
    partial = capture("o", "N", "USD", 700, 1_000)
    whole = charge("o", "N", "USD", 1_000)

    assert [(m.type, m.minor) for m in partial] == [
        (EntryType.CAPTURE, 700),
        (EntryType.RELEASE, 300),
    ]
    held = [adjustment("k", "USD", 1_000), reserve("o", "N", "USD", 1_000)]
    assert replay("USD", [*held, *partial]) == Balance("USD", 300, 0)
    assert replay("USD", [adjustment("k", "USD", 1_000), *whole]) == Balance("USD", 0, 0)


# A random life of a wallet: whatever is tried, what applies keeps the invariants.

KINDS = st.sampled_from(["credit", "debit", "reserve", "capture", "release", "refund"])


def attempted(kind: str, subject: str, minor: int) -> Movement:
    """One movement of `kind`; a capture or release may find no hold, like any step."""
    match kind:
        case "credit" | "debit":
            return adjustment(subject, "USD", minor if kind == "credit" else -minor)
        case "reserve":
            return reserve(subject, "N", "USD", minor)
        case "capture":
            return capture(subject, "N", "USD", minor, minor)[0]
        case "release":
            return release(subject, "N", "USD", minor)
        case _:
            return Movement(entry_id(subject, "refund"), EntryType.REFUND, "USD", minor)


@given(st.lists(st.tuples(KINDS, st.integers(1, 10_000)), max_size=60))
def test_any_sequence_of_movements_keeps_the_wallet_equal_to_its_ledger(
    attempts: list[tuple[str, int]],
) -> None:
    balance = Balance("USD")
    ledger: list[BalanceTransaction] = []
    for n, (kind, minor) in enumerate(attempts):
        movement = attempted(kind, f"s{n}", minor)
        try:
            after = balance.after(movement)
        except InsufficientBalance:
            continue
        ledger.append(entry_after("cus_1", movement, after, NOW))
        balance = after
        assert balance.available_minor >= 0
        assert balance.reserved_minor >= 0
        assert ledger[-1].balance == balance

    assert ledger_totals(ledger).get("USD", Balance("USD")) == balance


currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@given(currencies, st.integers(0, 10**13), st.integers(0, 10**13))
def test_balance_views_round_trip_through_minor_units(
    currency: str, available: int, reserved: int
) -> None:
    balance = Balance(currency, available, reserved)

    assert to_minor(balance.available, currency) == available
    assert to_minor(balance.reserved, currency) == reserved
    assert balance.available == from_minor(available, currency)
