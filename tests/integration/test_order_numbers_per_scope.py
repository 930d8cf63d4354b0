"""An orderNumber is unique per scope (API key); a database made when it was unique
across all scopes is brought to the new index at start-up and keeps working."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from payflow.store.base import IdempotencyRef, OrderNumberTaken
from payflow.store.mongo import MongoStore
from tests.support import FakeClock, card_order

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OLD_UNIQUE_INDEX = "orderNumber_1"


async def test_an_old_database_with_a_global_unique_order_number_takes_per_scope_numbers(
    mongo_db: Any,
) -> None:
    clock = FakeClock()
    await mongo_db.orders.create_index("orderNumber", unique=True)  # the old shape
    old_order = card_order("ord_old", "SAME-1", clock.now)  # from before scopes were kept
    assert old_order.scope is None
    store = MongoStore(mongo_db)
    await store.orders.insert(old_order, IdempotencyRef("global", "k0", "fp"), clock.now)

    await store.ensure_indexes()
    await store.ensure_indexes()  # a second start (or a second process) changes nothing

    indexes = await mongo_db.orders.index_information()
    assert OLD_UNIQUE_INDEX not in indexes
    assert any(
        spec.get("unique") and spec["key"] == [("orderNumber", 1), ("scope", 1)]
        for spec in indexes.values()
    )
    other = replace(card_order("ord_other", "SAME-1", clock.now), scope="key_b")
    await store.orders.insert(other, IdempotencyRef("key_b", "k1", "fp"), clock.now)
    migrated = await store.orders.get("SAME-1", "global")
    assert migrated is not None
    assert migrated.scope == "global"
    found = await store.orders.get("SAME-1", "key_b")
    assert found is not None
    assert found.id == "ord_other"
    for scope in ("key_b", "global"):  # still unique within a scope, the old order's too
        again = replace(card_order(f"ord_again_{scope}", "SAME-1", clock.now), scope=scope)
        with pytest.raises(OrderNumberTaken):
            await store.orders.insert(again, IdempotencyRef(scope, "k2", "fp"), clock.now)
