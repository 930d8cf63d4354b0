"""The request fingerprint (DESIGN §1.1). The key state machine over the store runs on
every backend in tests/contract/test_idempotency_records.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from payflow import idempotency


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(st.integers(), st.decimals(allow_nan=False, allow_infinity=False), st.text()),
        max_size=5,
    )
)
def test_fingerprint_ignores_key_order_and_number_spelling(body: dict[str, Any]) -> None:
    reordered = dict(reversed(list(body.items())))
    respelled = {
        k: (Decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v)
        for k, v in reordered.items()
    }
    expected = idempotency.fingerprint("POST", "/api/orders", body)
    assert idempotency.fingerprint("POST", "/api/orders", respelled) == expected
    assert idempotency.fingerprint("POST", "/api/other", body) != expected
