"""The money store on mongomock: customers, wallet movements, saved cards (DESIGN §7).

The cases live in tests/money_store_cases.py and run on the real server too.
"""

from __future__ import annotations

from typing import Any

import pytest

from payflow.store.mongo import MongoStore
from tests.money_store_cases import (  # noqa: F401 - collected here
    test_a_charge_and_its_refund_debit_and_credit_the_wallet,
    test_a_crash_after_the_ledger_insert_leaves_nothing_a_reader_can_see,
    test_a_customer_is_stored_with_its_opening_balances_and_their_ledger_entries,
    test_a_customer_of_another_client_is_not_found,
    test_a_debit_beyond_the_available_balance_raises_and_changes_nothing,
    test_a_debit_in_a_currency_never_held_raises_insufficient_balance,
    test_a_movement_for_an_unknown_customer_raises_customer_not_found,
    test_a_reservation_beyond_available_raises_and_a_release_gives_the_hold_back,
    test_a_saved_card_keeps_no_number_and_reads_back_as_saved,
    test_a_step_cut_short_after_its_first_entry_is_completed_by_its_re_run,
    test_an_unknown_method_cannot_be_attached_or_detached,
    test_attaching_a_card_the_customer_holds_already_names_the_first_method,
    test_attaching_twice_to_the_same_customer_is_a_no_op_and_another_customer_is_refused,
    test_creating_a_customer_again_credits_its_opening_balance_once,
    test_credits_and_debits_move_available_and_write_the_balance_after_them,
    test_customers_are_listed_newest_first_in_cursor_pages,
    test_detach_is_permanent_and_frees_the_card_for_a_new_method,
    test_re_running_a_movement_with_the_same_entry_ids_changes_no_balance,
    test_reserve_then_partial_capture_releases_the_rest_in_the_same_step,
    test_the_fingerprint_key_is_made_once_per_installation,
    test_the_ledger_is_listed_newest_first_in_the_order_it_was_applied,
    test_the_same_card_may_be_attached_to_another_customer_with_the_same_fingerprint,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def money_db(mock_db: Any) -> Any:
    return mock_db


@pytest.fixture
async def store(money_db: Any) -> MongoStore:
    store = MongoStore(money_db)
    await store.ensure_indexes()
    return store
