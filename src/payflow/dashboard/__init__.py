"""payflow's dashboard (`/dashboard`): orders live, an order's timeline and deliveries,
events, webhook endpoints and a test payment form, all read from the public API.

`ROUTES` is everything it adds to the application: the pages, their script and styles,
and the change stream the live views listen to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from payflow.dashboard.pages import PAGES, STATIC
from payflow.dashboard.stream import order_changes

_assets = create_static_files_router(
    path=STATIC,
    directories=[Path(__file__).parent / "static"],
    name="dashboard-assets",
    cache_control=CacheControlHeader(no_cache=True),
)

ROUTES: list[Any] = [*PAGES, _assets, order_changes]

__all__ = ["ROUTES"]
