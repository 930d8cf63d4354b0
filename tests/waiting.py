"""Waiting for what a worker or another process makes true, always with a deadline.

A deadline is an upper bound for a condition, never a timing assertion: a slow machine
only makes a test slower, and a condition that never comes fails with what it was.
`eventually` is for tests on an event loop, `eventually_sync` for those that drive a
served process over plain HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx

T = TypeVar("T")
DEADLINE_SECONDS = 20.0


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    within: float = DEADLINE_SECONDS,
    every: float = 0.02,
) -> T:
    """Poll `check` until it returns something truthy, and return that."""
    with anyio.move_on_after(within):
        while True:
            if result := await check():
                return result
            await anyio.sleep(every)
    raise AssertionError(f"still waiting after {within} s for {what}")


def eventually_sync(
    check: Callable[[], T | None],
    what: str,
    *,
    within: float = DEADLINE_SECONDS,
    every: float = 0.05,
) -> T:
    """`eventually` for code without an event loop (checked at least once)."""
    deadline = time.monotonic() + within
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {within} s for {what}")
        time.sleep(every)


async def wait_for_status(
    client: Any, order_number: str, status: str, *, within: float = DEADLINE_SECONDS
) -> dict[str, Any]:
    """The order once it has `status` (through the API, as a client would see it)."""

    async def order_in_status() -> dict[str, Any] | None:
        order: dict[str, Any] = (await client.get(f"/api/orders/{order_number}")).json()
        return order if order["status"] == status else None

    return await eventually(order_in_status, f"order {order_number} {status}", within=within)


def wait_for_status_sync(
    base_url: str,
    order_number: str,
    status: str,
    *,
    headers: dict[str, str] | None = None,
    within: float = DEADLINE_SECONDS,
) -> dict[str, Any]:
    """`wait_for_status` against a served payflow at `base_url`."""

    def order_in_status() -> dict[str, Any] | None:
        url = f"{base_url}/api/orders/{order_number}"
        order: dict[str, Any] = httpx.get(url, headers=headers).json()
        return order if order["status"] == status else None

    return eventually_sync(order_in_status, f"order {order_number} {status}", within=within)
