"""The `Link` to the next page: every list builds it the same way."""

from __future__ import annotations

from payflow.api.paging import next_page_link


def test_the_link_repeats_the_set_filters_in_order_then_limit_and_cursor() -> None:
    headers = next_page_link("/api/events", "c2", 2, orderNumber="A-1", type=None)
    assert headers == {"Link": '</api/events?orderNumber=A-1&limit=2&cursor=c2>; rel="next"'}


def test_the_last_page_has_no_link() -> None:
    assert next_page_link("/api/orders", None, 50, status="Paid") == {}


def test_filter_values_are_percent_encoded_so_the_link_keeps_its_meaning() -> None:
    headers = next_page_link("/api/orders", "c3", 5, orderNumber="A&B #1>")
    assert headers == {
        "Link": '</api/orders?orderNumber=A%26B+%231%3E&limit=5&cursor=c3>; rel="next"'
    }
