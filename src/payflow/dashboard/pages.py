"""The dashboard's pages: small HTML shells that `static/dashboard.js` fills from the API.

The pages are rendered with Jinja (autoescaped) and carry no data of their own: every
order, event and endpoint comes from the public `/api/…` routes, fetched by the browser
with the API key the person typed (kept in the tab's sessionStorage). So the page
itself needs no key, and what it shows is exactly what that key may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import MediaType, Response, get
from litestar.params import FromPath

PREFIX = "/dashboard"
STATIC = f"{PREFIX}/static"
# Our own script and styles only: nothing is loaded from anywhere else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class View:
    """One entry of the navigation: a page and the part of dashboard.js that fills it."""

    name: str
    title: str
    href: str


VIEWS: tuple[View, ...] = (
    View("orders", "Orders", PREFIX),
    View("events", "Events", f"{PREFIX}/events"),
    View("endpoints", "Webhook endpoints", f"{PREFIX}/endpoints"),
    View("customers", "Customers", f"{PREFIX}/customers"),
)

_templates = Environment(
    loader=PackageLoader("payflow.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, view: str, **context: Any) -> Response[str]:
    """`template` names the page (and the part of dashboard.js that fills it); `view` is
    the navigation entry it belongs to."""
    page = template.removesuffix(".html")
    html = _templates.get_template(template).render(
        views=VIEWS, current=view, page=page, static=STATIC, **context
    )
    return Response(html, media_type=MediaType.HTML, headers=SECURITY_HEADERS)


@get([PREFIX, f"{PREFIX}/"], include_in_schema=False, sync_to_thread=False)
def orders_page() -> Response[str]:
    """The orders, live, and the form that triggers a test payment."""
    return render("orders.html", "orders", title="Orders")


@get(f"{PREFIX}/orders/{{order_number:str}}", include_in_schema=False, sync_to_thread=False)
def order_page(order_number: FromPath[str]) -> Response[str]:
    """One order: its fields, timeline, deliveries with every attempt, and actions."""
    return render("order.html", "orders", title=f"Order {order_number}", order=order_number)


@get(f"{PREFIX}/events", include_in_schema=False, sync_to_thread=False)
def events_page() -> Response[str]:
    return render("events.html", "events", title="Events")


@get(f"{PREFIX}/endpoints", include_in_schema=False, sync_to_thread=False)
def endpoints_page() -> Response[str]:
    return render("endpoints.html", "endpoints", title="Webhook endpoints")


@get(f"{PREFIX}/customers", include_in_schema=False, sync_to_thread=False)
def customers_page() -> Response[str]:
    """Customers with their wallets; one customer's ledger, with a credit/debit form."""
    return render("customers.html", "customers", title="Customers")


PAGES = [orders_page, order_page, events_page, endpoints_page, customers_page]
