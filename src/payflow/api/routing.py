"""Case-insensitive static path segments: `/api/Orders` is what existing clients send.

Litestar matches paths exactly, so this thin ASGI layer rewrites the static
segments of a request path to the case the routes were declared with, before
routing. Path parameters (order numbers) keep their case: they are data.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import cast

from litestar.types import ASGIApp, Receive, Scope, Send

Template = tuple[str | None, ...]  # None marks a path parameter


def _template(path: str) -> Template:
    return tuple(None if part.startswith("{") else part for part in path.strip("/").split("/"))


class CaseInsensitivePaths:
    def __init__(self, app: ASGIApp, route_paths: Iterable[str]) -> None:
        self.app = app
        templates = {_template(path) for path in route_paths}
        # More static segments first: `/api/orders/x` prefers a static route over `{param}`.
        self._templates = sorted(templates, key=lambda t: -sum(part is not None for part in t))
        self.canonical = lru_cache(maxsize=4096)(self._canonical)

    def _canonical(self, path: str) -> str:
        parts = path.strip("/").split("/")
        for template in self._templates:
            if len(template) != len(parts):
                continue
            if all(
                t is None or t.lower() == p.lower() for t, p in zip(template, parts, strict=True)
            ):
                fixed = [p if t is None else t for t, p in zip(template, parts, strict=True)]
                return "/" + "/".join(fixed) + ("/" if path.endswith("/") and len(path) > 1 else "")
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            canonical = self.canonical(path)
            if canonical != path:
                scope = cast("Scope", {**scope, "path": canonical, "raw_path": canonical.encode()})
        await self.app(scope, receive, send)
